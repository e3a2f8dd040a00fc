//! The AVX2+FMA micro-kernel: an `MR × NR` tile of C held in ymm registers.
//!
//! Only 16 ymm registers: `MR = 16` (2 ymm) by `NR = 6` keeps 12 accumulators, 2 A vectors and one
//! broadcast live, the classic Haswell shape. 12 independent chains cover the FMA latency (2 ports ×
//! 4 cycles = 8 chains needed).
#![cfg(target_arch = "x86_64")]
// Register tiles read best indexed like the math: acc[j][v] += a[v] · b[j].
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;

/// The micro-kernel for `MR = 8·MV` and `NR`; see [`super::blocking::MicroKernel`] for the contract.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `a` must hold `kc·MR` floats and be 32-byte aligned; `b` must
/// hold `kc·NR` floats; C must be writable (and readable when `beta != 0`) on `MR × NR` at `ldc`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn kernel<const MV: usize, const NR: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    alpha: f32,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    let mut acc = [[_mm256_setzero_ps(); MV]; NR];
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        let av: [__m256; MV] = std::array::from_fn(|v| _mm256_load_ps(a.add(8 * v)));
        for (j, acc_j) in acc.iter_mut().enumerate() {
            let bj = _mm256_broadcast_ss(&*b.add(j));
            for v in 0..MV {
                acc_j[v] = _mm256_fmadd_ps(av[v], bj, acc_j[v]);
            }
        }
        a = a.add(8 * MV);
        b = b.add(NR);
    }
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
