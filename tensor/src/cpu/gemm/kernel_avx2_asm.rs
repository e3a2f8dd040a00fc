//! The AVX2 family's packed 16 × 6 tile with its k loop written in assembly.
//!
//! Same arithmetic as `kernel_avx2::kernel_in_place::<2, 6, PACKED>`: per k step two A vectors,
//! six broadcasts of B and twelve FMAs into twelve accumulators, the sums in the same order, so the
//! results agree to the bit (the test below holds them to it). The difference is the loop: unrolled
//! by 8, every address a constant offset from two pointers that move once per 8 steps. LLVM keeps
//! the intrinsics loop at one step per iteration, and unrolling it in the source gained nothing
//! (by 4), or ran at 0.63 of the speed (by 8).
//!
//! Measured on a 2-core Zen 3 VM in a slow spell, the kernel looping over a 320 × 320
//! packed A block and a 2046-column packed B block as the driver does (throwaway harness, paired
//! rounds, medians of 50): this loop at 0.97–0.98 of the speed of OpenBLAS's own Zen kernel
//! (`sgemm_kernel_ZEN`, called on the same buffers), the intrinsics loop at 0.94–0.96. In a fast
//! spell of the same machine, the two loops ran at the same speed (`blocking.rs` has the figures);
//! the machine has no hardware counters, so what the slow spells were short of is not known.
#![cfg(target_arch = "x86_64")]

use std::arch::asm;
use std::arch::x86_64::*;

use super::kernel_avx2::{prefetch_tile, store_tile, PREFETCH_STEPS};

/// One k step `s` of the unrolled loop: A at `64·s` bytes (16 floats), B at `24·s` (6 floats).
/// ymm0/ymm1 hold the A column, ymm2 the broadcast, ymm(4 + 2j + v) the accumulator of column j,
/// rows 8v..8v + 8. The prefetch asks for the A line `PREFETCH_STEPS` steps ahead (`{ahead}`
/// bytes), as the intrinsics tile does.
#[rustfmt::skip]
macro_rules! k_step {
    ($s:literal) => {
        concat!(
            "vmovaps ymm0, [{a} + 64*", $s, "]\n",
            "vmovaps ymm1, [{a} + 64*", $s, " + 32]\n",
            "prefetcht0 [{a} + 64*", $s, " + {ahead}]\n",
            "vbroadcastss ymm2, dword ptr [{b} + 24*", $s, "]\n",
            "vfmadd231ps ymm4, ymm0, ymm2\n",
            "vfmadd231ps ymm5, ymm1, ymm2\n",
            "vbroadcastss ymm2, dword ptr [{b} + 24*", $s, " + 4]\n",
            "vfmadd231ps ymm6, ymm0, ymm2\n",
            "vfmadd231ps ymm7, ymm1, ymm2\n",
            "vbroadcastss ymm2, dword ptr [{b} + 24*", $s, " + 8]\n",
            "vfmadd231ps ymm8, ymm0, ymm2\n",
            "vfmadd231ps ymm9, ymm1, ymm2\n",
            "vbroadcastss ymm2, dword ptr [{b} + 24*", $s, " + 12]\n",
            "vfmadd231ps ymm10, ymm0, ymm2\n",
            "vfmadd231ps ymm11, ymm1, ymm2\n",
            "vbroadcastss ymm2, dword ptr [{b} + 24*", $s, " + 16]\n",
            "vfmadd231ps ymm12, ymm0, ymm2\n",
            "vfmadd231ps ymm13, ymm1, ymm2\n",
            "vbroadcastss ymm2, dword ptr [{b} + 24*", $s, " + 20]\n",
            "vfmadd231ps ymm14, ymm0, ymm2\n",
            "vfmadd231ps ymm15, ymm1, ymm2\n",
        )
    };
}

/// The packed 16 × 6 micro-kernel; see [`super::blocking::MicroKernel`] for the contract.
///
/// # Safety
/// AVX2 and FMA; `a` holds `kc·16` floats, 32-byte aligned; `b` holds `kc·6` floats; C is
/// writable (and readable when `beta != 0`) on 16 × 6 at `ldc`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn kernel_16x6(
    kc: usize,
    a: *const f32,
    b: *const f32,
    alpha: f32,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    prefetch_tile::<2, 6>(c, ldc);
    let z = _mm256_setzero_ps();
    let mut acc = [[z; 2]; 6];
    // SAFETY: the loops read `kc` steps of A (64 bytes each) and B (24 bytes each), inside the
    // slivers the caller vouches for; prefetches past the end do not fault. Only the named
    // registers are written, and the flags (not preserved by default).
    asm!(
        "test {blocks}, {blocks}",
        "jz 3f",
        "2:",
        k_step!(0), k_step!(1), k_step!(2), k_step!(3),
        k_step!(4), k_step!(5), k_step!(6), k_step!(7),
        "add {a}, 512",
        "add {b}, 192",
        "dec {blocks}",
        "jnz 2b",
        "3:",
        "test {rest}, {rest}",
        "jz 5f",
        "4:",
        k_step!(0),
        "add {a}, 64",
        "add {b}, 24",
        "dec {rest}",
        "jnz 4b",
        "5:",
        a = inout(reg) a => _,
        b = inout(reg) b => _,
        blocks = inout(reg) kc / 8 => _,
        rest = inout(reg) kc % 8 => _,
        ahead = const 64 * PREFETCH_STEPS,
        out("ymm0") _,
        out("ymm1") _,
        out("ymm2") _,
        inout("ymm4") acc[0][0],
        inout("ymm5") acc[0][1],
        inout("ymm6") acc[1][0],
        inout("ymm7") acc[1][1],
        inout("ymm8") acc[2][0],
        inout("ymm9") acc[2][1],
        inout("ymm10") acc[3][0],
        inout("ymm11") acc[3][1],
        inout("ymm12") acc[4][0],
        inout("ymm13") acc[4][1],
        inout("ymm14") acc[5][0],
        inout("ymm15") acc[5][1],
        options(nostack, readonly),
    );
    store_tile::<2, 6>(&acc, alpha, beta, c, ldc);
}

#[cfg(test)]
mod tests {
    use super::super::blocking::BLayout;
    use super::super::kernel_avx2::kernel_in_place;
    use super::kernel_16x6;

    /// The assembly loop must compute exactly what the intrinsics kernel computes: every depth
    /// around the unroll of 8 (including none), both betas, a C with a leading dimension > 16.
    #[test]
    fn assembly_tile_matches_the_intrinsics_tile_bit_for_bit() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        #[repr(C, align(64))]
        struct Aligned([f32; 16 * 1000]);
        let mut state = 0x9e37_79b9_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state as f32 / u32::MAX as f32) * 2.0 - 1.0
        };
        let mut a = Box::new(Aligned([0.0; 16 * 1000]));
        a.0.iter_mut().for_each(|x| *x = next());
        let b: Vec<f32> = (0..6 * 1000).map(|_| next()).collect();
        let ldc = 21;
        let c0: Vec<f32> = (0..6 * ldc).map(|_| next()).collect();
        for kc in [0, 1, 7, 8, 9, 15, 16, 17, 383, 384, 1000] {
            for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
                let (mut want, mut got) = (c0.clone(), c0.clone());
                // SAFETY: AVX2 and FMA are present; A holds 16·kc aligned floats, B 6·kc, C 6 columns of ldc.
                unsafe {
                    kernel_in_place::<2, 6, { BLayout::Packed as u8 }>(
                        kc,
                        a.0.as_ptr(),
                        b.as_ptr(),
                        6,
                        alpha,
                        beta,
                        want.as_mut_ptr(),
                        ldc,
                    );
                    kernel_16x6(kc, a.0.as_ptr(), b.as_ptr(), alpha, beta, got.as_mut_ptr(), ldc);
                }
                for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                    assert_eq!(w.to_bits(), g.to_bits(), "kc {kc}, beta {beta}: C[{}] {w} vs {g}", i);
                }
            }
        }
    }
}
