//! The f64 GEMM, for gradient checks: correct for any strides, and fast enough without a micro-kernel.
//!
//! One level of cache blocking around a row-times-block loop: a `KB × NB` block of B is copied into a
//! dense row-major buffer, then every row of C accumulates `a[i, p] · B[p, ..]` over it with a
//! vectorised axpy. Rows are independent, so they spread over threads.

use rayon::prelude::*;

use super::{check_shapes, scale, MatMut, MatRef, Parallelism};

/// Depth of one block: 128 × 256 f64 of B is 256 KiB, resident in L2 while every row of C passes.
const KB: usize = 128;
/// Columns of one block: the row accumulator (2 KiB) and the B row it adds stay in L1.
const NB: usize = 256;
/// Below this many multiply-adds (m·n·k) the work stays on the calling thread.
const PAR_MIN_MACS: usize = 1 << 18;

/// A raw pointer into C that rows on different threads write through (each its own row).
#[derive(Clone, Copy)]
struct SendPtr(*mut f64);
// SAFETY: tasks write disjoint rows of a C view checked not to alias itself.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so closures capture the whole `Send` wrapper, not its field).
    fn get(self) -> *mut f64 {
        self.0
    }
}

/// f64 GEMM for gradient checks: correct and reasonably fast (a simple cache-blocked loop that autovectorises is fine), same addressing.
pub fn dgemm(alpha: f64, a: MatRef<f64>, b: MatRef<f64>, beta: f64, c: MatMut<f64>, par: Parallelism) {
    check_shapes("dgemm", &a, &b, &c);
    let (m, n, k) = (c.rows, c.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == 0.0 {
        scale(beta, c);
        return;
    }
    let parallel = par == Parallelism::Rayon && m.saturating_mul(n).saturating_mul(k) >= PAR_MIN_MACS;
    let mut block = vec![0.0f64; KB.min(k) * NB.min(n)];
    let (c_off, c_rs, c_cs) = (c.offset, c.rs, c.cs);
    let cp = SendPtr(c.data.as_mut_ptr());
    for jb in (0..n).step_by(NB) {
        let ncur = NB.min(n - jb);
        for pb in (0..k).step_by(KB) {
            let kcur = KB.min(k - pb);
            for p in 0..kcur {
                for j in 0..ncur {
                    block[p * ncur + j] = b.data[b.offset + (pb + p) * b.rs + (jb + j) * b.cs];
                }
            }
            let beta = if pb == 0 { beta } else { 1.0 };
            let block = &block[..kcur * ncur];
            let row = |i: usize| {
                let mut acc = [0.0f64; NB];
                let acc = &mut acc[..ncur];
                for (p, brow) in block.chunks_exact(ncur).enumerate() {
                    axpy(acc, alpha * a.data[a.offset + i * a.rs + (pb + p) * a.cs], brow);
                }
                for (j, &v) in acc.iter().enumerate() {
                    // SAFETY: (i, jb + j) is inside the bounds-checked C view; only this task
                    // touches row i.
                    unsafe {
                        let out = cp.get().add(c_off + i * c_rs + (jb + j) * c_cs);
                        *out = if beta == 0.0 { v } else { v + beta * *out };
                    }
                }
            };
            if parallel {
                (0..m).into_par_iter().for_each(row);
            } else {
                (0..m).for_each(row);
            }
        }
    }
}

/// acc += x · b, with AVX2+FMA where the CPU has it.
fn axpy(acc: &mut [f64], x: f64, b: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the features were just detected.
        unsafe { axpy_avx2(acc, x, b) };
        return;
    }
    axpy_body(acc, x, b);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_avx2(acc: &mut [f64], x: f64, b: &[f64]) {
    axpy_body(acc, x, b);
}

#[inline(always)]
fn axpy_body(acc: &mut [f64], x: f64, b: &[f64]) {
    for (o, &y) in acc.iter_mut().zip(b) {
        *o += x * y;
    }
}
