//! Fused scaled-dot-product attention on the CPU, forward and backward, one (batch, head) block per
//! task: `out = softmax(scale · q·kᵀ) · v` for `bh` independent blocks of `n` queries and `m` keys.
//!
//! The composite (two batched GEMMs around a softmax, and their backwards) writes every
//! `[bh, n, m]` intermediate to memory and reads it back: scores, probabilities, their gradient and
//! the scores' gradient, about ten passes over a tensor that is 7.5 MB per CAE-Tiny layer at batch
//! 16. Here each block's `n × m` scores live in a per-thread scratch that stays in L1/L2 from the
//! first GEMM to the last, and only the probabilities go to memory (written once, read once by the
//! backward), because on a CPU with `n ≈ 100` re-reading them costs less than recomputing them.
//! (The GPU's flash kernels make the other choice, and keep only each row's logsumexp: there the
//! score matrix of a long sequence would not fit on chip and recomputing is cheap.)
//!
//! The small GEMMs run on this thread (`Parallelism::None`); the blocks are what is spread over the
//! threads.

use std::cell::RefCell;

use rayon::prelude::*;

use super::gemm::{sgemm, MatMut, MatRef, Parallelism};
use super::softmax::{softmax_backward_rows, softmax_rows};

/// Block shape: `bh` blocks of `n` queries, `m` keys, head width `d` (q and k) and `e` (v and out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionDims {
    pub bh: usize,
    pub n: usize,
    pub m: usize,
    pub d: usize,
    pub e: usize,
}

impl AttentionDims {
    fn check(&self, what: &str, lens: &[(&str, usize, usize)]) {
        for &(name, len, want) in lens {
            assert_eq!(len, want, "{what}: {name} has {len} elements, {self:?} needs {want}");
        }
    }
}

thread_local! {
    /// Two `n × m` scratch matrices per thread, kept between calls.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        let (a, b) = &mut *s.borrow_mut();
        a.resize(len, 0.0);
        b.resize(len, 0.0);
        f(&mut a[..len], &mut b[..len])
    })
}

/// A dense row-major block `i` of `rows × cols` in `x`.
fn block(x: &[f32], i: usize, rows: usize, cols: usize) -> MatRef<'_, f32> {
    MatRef { data: x, offset: i * rows * cols, rows, cols, rs: cols, cs: 1 }
}

/// Forward: fills `out` `[bh, n, e]` and the probabilities `probs` `[bh, n, m]` that the backward
/// needs, from contiguous `q` `[bh, n, d]`, `k` `[bh, m, d]` and `v` `[bh, m, e]`.
pub fn attention_forward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dims: AttentionDims,
    scale: f32,
    out: &mut [f32],
    probs: &mut [f32],
) {
    let AttentionDims { bh, n, m, d, e } = dims;
    dims.check(
        "attention_forward",
        &[
            ("q", q.len(), bh * n * d),
            ("k", k.len(), bh * m * d),
            ("v", v.len(), bh * m * e),
            ("out", out.len(), bh * n * e),
            ("probs", probs.len(), bh * n * m),
        ],
    );
    if m == 0 {
        out.fill(0.0); // no keys: every output is an empty sum
        return;
    }
    if bh == 0 || n == 0 || e == 0 {
        return;
    }
    out.par_chunks_mut(n * e).zip(probs.par_chunks_mut(n * m)).enumerate().for_each(|(b, (out, p))| {
        with_scratch(n * m, |scores, _| {
            let s = MatMut::row_major(&mut *scores, n, m);
            sgemm(scale, block(q, b, n, d), block(k, b, m, d).t(), 0.0, s, Parallelism::None);
            softmax_rows(scores, m, p);
        });
        let o = MatMut::row_major(out, n, e);
        sgemm(1.0, MatRef::row_major(p, n, m), block(v, b, m, e), 0.0, o, Parallelism::None);
    });
}

/// Backward: `(dq, dk, dv)` from the forward's inputs, its `probs` and the output gradient `dout`
/// `[bh, n, e]`.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    probs: &[f32],
    dout: &[f32],
    dims: AttentionDims,
    scale: f32,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    let AttentionDims { bh, n, m, d, e } = dims;
    dims.check(
        "attention_backward",
        &[
            ("q", q.len(), bh * n * d),
            ("k", k.len(), bh * m * d),
            ("v", v.len(), bh * m * e),
            ("probs", probs.len(), bh * n * m),
            ("dout", dout.len(), bh * n * e),
            ("dq", dq.len(), bh * n * d),
            ("dk", dk.len(), bh * m * d),
            ("dv", dv.len(), bh * m * e),
        ],
    );
    if bh == 0 {
        return;
    }
    if n == 0 || m == 0 {
        // Nothing flows: no queries read the keys, or no keys feed the queries.
        dq.fill(0.0);
        dk.fill(0.0);
        dv.fill(0.0);
        return;
    }
    let grads = dq.par_chunks_mut(n * d).zip(dk.par_chunks_mut(m * d)).zip(dv.par_chunks_mut(m * e));
    grads.enumerate().for_each(|(b, ((dq, dk), dv))| {
        let (p, d_out) = (block(probs, b, n, m), block(dout, b, n, e));
        // dV = Pᵀ·dO
        sgemm(1.0, p.t(), d_out, 0.0, MatMut::row_major(dv, m, e), Parallelism::None);
        with_scratch(n * m, |dp, ds| {
            // dP = dO·Vᵀ, then the softmax's backward: dS = P ∘ (dP − rowsum(P ∘ dP)).
            let dp_mat = MatMut::row_major(&mut *dp, n, m);
            sgemm(1.0, d_out, block(v, b, m, e).t(), 0.0, dp_mat, Parallelism::None);
            softmax_backward_rows(&probs[b * n * m..(b + 1) * n * m], dp, m, ds);
            let ds = MatRef::row_major(&*ds, n, m);
            // S = scale·Q·Kᵀ: dQ = scale·dS·K, dK = scale·dSᵀ·Q.
            sgemm(scale, ds, block(k, b, m, d), 0.0, MatMut::row_major(dq, n, d), Parallelism::None);
            sgemm(scale, ds.t(), block(q, b, n, d), 0.0, MatMut::row_major(dk, m, d), Parallelism::None);
        });
    });
}

#[cfg(test)]
#[path = "attention_tests.rs"]
mod tests;
