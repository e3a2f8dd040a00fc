//! The portable micro-kernel: plain Rust on fixed-size arrays, which the compiler vectorises for
//! whatever baseline the target has (SSE2 on x86-64, NEON on aarch64).
//!
//! `MR = 8, NR = 4`: 32 accumulators fit the 16 SSE registers as 8 vectors of 4.

/// The micro-kernel for `MR × NR`; see [`super::blocking::MicroKernel`] for the contract.
///
/// # Safety
/// `a` must hold `kc·MR` floats, `b` `kc·NR`; C must be writable (and readable when `beta != 0`) on
/// `MR × NR` at `ldc`.
pub(super) unsafe fn kernel<const MR: usize, const NR: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    alpha: f32,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    let mut acc = [[0.0f32; MR]; NR];
    for p in 0..kc {
        // SAFETY: the caller guarantees kc steps of MR and NR floats.
        let av = &*(a.add(p * MR) as *const [f32; MR]);
        let bv = &*(b.add(p * NR) as *const [f32; NR]);
        for (acc_j, &bj) in acc.iter_mut().zip(bv) {
            for (x, &ai) in acc_j.iter_mut().zip(av) {
                *x += ai * bj;
            }
        }
    }
    for (j, acc_j) in acc.iter().enumerate() {
        let col = c.add(j * ldc);
        for (i, &x) in acc_j.iter().enumerate() {
            let out = col.add(i);
            *out = if beta == 0.0 { alpha * x } else { alpha * x + beta * *out };
        }
    }
}
