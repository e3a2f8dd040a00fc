//! The AVX-512 micro-kernel: an `MR × NR` tile of C held in zmm registers.
//!
//! Each k step loads `MR/16` zmm of the A sliver, broadcasts each of the `NR` values of the B sliver
//! and issues `MR/16 · NR` FMAs. The driver uses two shapes that fit the 32 zmm registers with 24
//! accumulators: `MR = 64, NR = 6` (4 A vectors and a broadcast live; 10 loads per 24 FMAs) and
//! `MR = 32, NR = 12` (2 A vectors; 14 loads) for row counts that 64 would pad too much (see
//! `blocking.rs`). 24 independent FMA chains cover the two FMA ports' latency (2 ports × 4 cycles =
//! 8 chains needed) three times over.
#![cfg(target_arch = "x86_64")]
// Register tiles read best indexed like the math: acc[j][v] += a[v] · b[j].
#![allow(clippy::needless_range_loop)]

use super::blocking::BLayout;
use std::arch::x86_64::*;

/// How far ahead (in k steps) the A sliver is prefetched: A streams from L2, whose latency
/// (~16 cycles) is a few k steps of 12 cycles each; 8 steps ahead leaves room for misses to L3.
const PREFETCH_STEPS: usize = 8;

/// The micro-kernel for `MR = 16·MV` and `NR`; see [`super::blocking::MicroKernel`] for the contract.
///
/// # Safety
/// The CPU must support AVX-512F; `a` must hold `kc·MR` floats and be 64-byte aligned; `b` must hold
/// `kc·NR` floats; C must be writable (and readable when `beta != 0`) on `MR × NR` at `ldc`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn kernel<const MV: usize, const NR: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    alpha: f32,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    kernel_in_place::<MV, NR, { BLayout::Packed as u8 }>(kc, a, b, NR, alpha, beta, c, ldc)
}

/// The tile with B wherever `B_AT` says (a [`BLayout`]): [`kernel`] is its packed case, and the
/// driver calls the in-place ones directly.
///
/// B's columns along k (`Columns`) are rows of a row-major matrix: `X` in the `Y = X·Wᵀ` of a
/// linear layer once the driver has turned the product around. Packing such a B means an 8×8
/// register transpose per 64 values; reading it directly costs nothing extra, because the kernel
/// loads B one broadcast scalar at a time anyway, and the `NR` source rows are `NR` sequential
/// streams that the hardware prefetchers follow. B's rows along n (`Rows`) are the packed layout
/// with a longer row: the driver reads small Bs that stay in cache that way, such as the
/// probabilities in attention's `dV = Pᵀ·dO`, where copying B would cost as much as the product.
///
/// # Safety
/// As [`kernel`], except that `b` must be readable at every `(k, j)` offset of `B_AT` for `j < NR`,
/// `k < kc`.
#[target_feature(enable = "avx512f")]
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
    // Ask for the C tile now: it is only touched after the k loop, by which time it has arrived.
    for j in 0..NR {
        for v in 0..MV {
            _mm_prefetch::<_MM_HINT_T0>(c.add(j * ldc + 16 * v) as *const i8);
        }
    }
    let mut acc = [[_mm512_setzero_ps(); MV]; NR];
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        for v in 0..MV {
            _mm_prefetch::<_MM_HINT_T0>(a.add(16 * MV * PREFETCH_STEPS + 16 * v) as *const i8);
        }
        let av: [__m512; MV] = std::array::from_fn(|v| _mm512_load_ps(a.add(16 * v)));
        for (j, acc_j) in acc.iter_mut().enumerate() {
            let b_kj = _mm512_set1_ps(*b.add(j * bj));
            for v in 0..MV {
                acc_j[v] = _mm512_fmadd_ps(av[v], b_kj, acc_j[v]);
            }
        }
        a = a.add(16 * MV);
        b = b.add(bk);
    }
    let alpha = _mm512_set1_ps(alpha);
    if beta == 0.0 {
        for (j, acc_j) in acc.iter().enumerate() {
            for v in 0..MV {
                _mm512_storeu_ps(c.add(j * ldc + 16 * v), _mm512_mul_ps(acc_j[v], alpha));
            }
        }
    } else {
        let beta = _mm512_set1_ps(beta);
        for (j, acc_j) in acc.iter().enumerate() {
            for v in 0..MV {
                let cp = c.add(j * ldc + 16 * v);
                let scaled = _mm512_mul_ps(_mm512_loadu_ps(cp), beta);
                _mm512_storeu_ps(cp, _mm512_fmadd_ps(acc_j[v], alpha, scaled));
            }
        }
    }
}
