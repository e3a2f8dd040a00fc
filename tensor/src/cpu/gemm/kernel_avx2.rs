//! The AVX2+FMA micro-kernel: an `MR × NR` tile of C held in ymm registers.
//!
//! Only 16 ymm registers: the driver takes `MR = 16` (2 ymm) by `NR = 6`, the classic Haswell
//! shape, 12 accumulators with 2 A vectors and a broadcast live (see `blocking.rs` for why not a
//! taller tile). 12 independent chains cover the FMA latency (2 ports × 4 cycles = 8 chains
//! needed). It reads B the same three ways as the AVX-512 kernel (`kernel_avx512.rs`, which
//! explains when each pays off). With B packed, the driver runs the same tile from
//! `kernel_avx2_asm.rs` instead, whose k loop is written in assembly (it says why); the packed case
//! here is the reference its tests hold it to, bit for bit.
#![cfg(target_arch = "x86_64")]
// Register tiles read best indexed like the math: acc[j][v] += a[v] · b[j].
#![allow(clippy::needless_range_loop)]

use super::blocking::BLayout;
use std::arch::x86_64::*;

/// How far ahead (in k steps) the A sliver is prefetched: a k step is 6 cycles and reads one or
/// two 64-byte lines of A (16 or 24 floats), so 8 steps cover an L2 hit with room for a miss to L3.
pub(super) const PREFETCH_STEPS: usize = 8;

/// The `MR × NR` tile, `MR = 8·MV`, with B wherever `B_AT` says (a [`BLayout`], `ldb` apart along
/// its strided side); see [`super::blocking::MicroKernel`] for the rest of the contract.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `a` must hold `kc·MR` floats and be 32-byte aligned; `b` must
/// be readable at every `(k, j)` offset of `B_AT` for `j < NR`, `k < kc`; C must be writable (and
/// readable when `beta != 0`) on `MR × NR` at `ldc`.
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn kernel_in_place<const MV: usize, const NR: usize, const B_AT: u8>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    alpha: f32,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    let (bj, bk) = BLayout::strides(B_AT, ldb);
    prefetch_tile::<MV, NR>(c, ldc);
    let mut acc = [[_mm256_setzero_ps(); MV]; NR];
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        // Packed A is 64-byte aligned: one prefetch per 64-byte line.
        for v in (0..MV).step_by(2) {
            _mm_prefetch::<_MM_HINT_T0>(a.add(8 * MV * PREFETCH_STEPS + 8 * v) as *const i8);
        }
        let av: [__m256; MV] = std::array::from_fn(|v| _mm256_load_ps(a.add(8 * v)));
        for (j, acc_j) in acc.iter_mut().enumerate() {
            let b_kj = _mm256_broadcast_ss(&*b.add(j * bj));
            for v in 0..MV {
                acc_j[v] = _mm256_fmadd_ps(av[v], b_kj, acc_j[v]);
            }
        }
        a = a.add(8 * MV);
        b = b.add(bk);
    }
    store_tile::<MV, NR>(&acc, alpha, beta, c, ldc);
}

/// Asks for the `8·MV × NR` tile of C before the k loop: it is only touched after the loop, by
/// which time it has arrived.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(super) unsafe fn prefetch_tile<const MV: usize, const NR: usize>(c: *const f32, ldc: usize) {
    for j in 0..NR {
        for v in 0..MV {
            _mm_prefetch::<_MM_HINT_T0>(c.add(j * ldc + 8 * v) as *const i8);
        }
    }
}

/// `C ← alpha·acc + beta·C` on the `8·MV × NR` tile (C not read when `beta == 0`).
///
/// # Safety
/// AVX2 and FMA; C as in [`kernel_in_place`].
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(super) unsafe fn store_tile<const MV: usize, const NR: usize>(
    acc: &[[__m256; MV]; NR],
    alpha: f32,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    let alpha = _mm256_set1_ps(alpha);
    if beta == 0.0 {
        for (j, acc_j) in acc.iter().enumerate() {
            for v in 0..MV {
                _mm256_storeu_ps(c.add(j * ldc + 8 * v), _mm256_mul_ps(acc_j[v], alpha));
            }
        }
    } else {
        let beta = _mm256_set1_ps(beta);
        for (j, acc_j) in acc.iter().enumerate() {
            for v in 0..MV {
                let cp = c.add(j * ldc + 8 * v);
                let scaled = _mm256_mul_ps(_mm256_loadu_ps(cp), beta);
                _mm256_storeu_ps(cp, _mm256_fmadd_ps(acc_j[v], alpha, scaled));
            }
        }
    }
}
