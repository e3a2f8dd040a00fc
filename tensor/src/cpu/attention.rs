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
//! threads. The inputs are read where they lie ([`Blocks`]): the heads of a ViT come as views of the
//! qkv projection, `[B, N, 3, H, d]` seen as `[B, H, N, d]`. Gathering them into dense blocks first
//! (q, k and v in the forward, again in the backward, with the output gradient) made about three
//! quarters of the strided copies of a CAE-Small training step, which perf put at 3.7% of its time.

use std::cell::RefCell;

use rayon::prelude::*;

use super::gemm::{sgemm, MatMut, MatRef, Parallelism};
use super::softmax::{softmax_backward_rows, softmax_rows};

/// Block shape: `bh` blocks of `n` queries, `m` keys, head width `d` (q and k) and `e` (v and out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionDims {
    /// Number of independent blocks: batch × heads.
    pub bh: usize,
    /// Queries per block (rows of q, out and the scores).
    pub n: usize,
    /// Keys per block (rows of k and v, columns of the scores).
    pub m: usize,
    /// Width of q and k: the dimension the scores contract over.
    pub d: usize,
    /// Width of v and of the output.
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

/// One input operand: `offsets.len()` matrices of `rows × cols` in `data`, matrix `i` starting at
/// `offsets[i]`, element (r, c) at `offsets[i] + r·rs + c·cs`. Any strided view whose last two axes
/// are the matrix can be described this way without copying it.
#[derive(Clone, Debug)]
pub struct Blocks<'a> {
    /// The whole buffer the matrices are read from (the view's storage, not a copy).
    pub data: &'a [f32],
    /// Start of each matrix in `data`, in elements; one per block.
    pub offsets: Vec<usize>,
    /// Rows of every matrix.
    pub rows: usize,
    /// Columns of every matrix.
    pub cols: usize,
    /// Row stride, in elements.
    pub rs: usize,
    /// Column stride, in elements (1 when rows are contiguous).
    pub cs: usize,
}

impl<'a> Blocks<'a> {
    /// `count` dense row-major matrices stored one after another.
    pub fn dense(data: &'a [f32], count: usize, rows: usize, cols: usize) -> Blocks<'a> {
        Blocks { data, offsets: (0..count).map(|i| i * rows * cols).collect(), rows, cols, rs: cols, cs: 1 }
    }

    /// Matrix `i` (its bounds are checked by the GEMM that reads it).
    fn get(&self, i: usize) -> MatRef<'a, f32> {
        MatRef { data: self.data, offset: self.offsets[i], rows: self.rows, cols: self.cols, rs: self.rs, cs: self.cs }
    }

    fn check(&self, what: &str, name: &str, dims: &AttentionDims, rows: usize, cols: usize) {
        assert!(
            self.offsets.len() == dims.bh && self.rows == rows && self.cols == cols,
            "{what}: {name} holds {} blocks of {}×{}, {dims:?} needs {} of {rows}×{cols}",
            self.offsets.len(),
            self.rows,
            self.cols,
            dims.bh
        );
    }
}

/// Checks q `n × d`, k `m × d` and v `m × e`, `bh` blocks each.
fn check_qkv(what: &str, q: &Blocks, k: &Blocks, v: &Blocks, dims: &AttentionDims) {
    q.check(what, "q", dims, dims.n, dims.d);
    k.check(what, "k", dims, dims.m, dims.d);
    v.check(what, "v", dims, dims.m, dims.e);
}

/// A dense row-major block `i` of `rows × cols` in `x`.
fn block(x: &[f32], i: usize, rows: usize, cols: usize) -> MatRef<'_, f32> {
    MatRef { data: x, offset: i * rows * cols, rows, cols, rs: cols, cs: 1 }
}

/// Forward: fills `out` `[bh, n, e]` and the probabilities `probs` `[bh, n, m]` that the backward
/// needs, from `bh` blocks of `q` `n × d`, `k` `m × d` and `v` `m × e`.
pub fn attention_forward(
    q: &Blocks,
    k: &Blocks,
    v: &Blocks,
    dims: AttentionDims,
    scale: f32,
    out: &mut [f32],
    probs: &mut [f32],
) {
    let AttentionDims { bh, n, m, e, .. } = dims;
    let what = "attention_forward";
    check_qkv(what, q, k, v, &dims);
    dims.check(what, &[("out", out.len(), bh * n * e), ("probs", probs.len(), bh * n * m)]);
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
            sgemm(scale, q.get(b), k.get(b).t(), 0.0, s, Parallelism::None);
            softmax_rows(scores, m, p);
        });
        let o = MatMut::row_major(out, n, e);
        sgemm(1.0, MatRef::row_major(p, n, m), v.get(b), 0.0, o, Parallelism::None);
    });
}

/// Backward: `(dq, dk, dv)`, dense `[bh, n, d]`, `[bh, m, d]` and `[bh, m, e]`, from the forward's
/// inputs, its `probs` and `bh` blocks of the output gradient `dout` `n × e`.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    q: &Blocks,
    k: &Blocks,
    v: &Blocks,
    probs: &[f32],
    dout: &Blocks,
    dims: AttentionDims,
    scale: f32,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    let AttentionDims { bh, n, m, d, e } = dims;
    let what = "attention_backward";
    check_qkv(what, q, k, v, &dims);
    dout.check(what, "dout", &dims, n, e);
    dims.check(
        what,
        &[
            ("probs", probs.len(), bh * n * m),
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
        let (p, d_out) = (block(probs, b, n, m), dout.get(b));
        // dV = Pᵀ·dO
        sgemm(1.0, p.t(), d_out, 0.0, MatMut::row_major(dv, m, e), Parallelism::None);
        with_scratch(n * m, |dp, ds| {
            // dP = dO·Vᵀ, then the softmax's backward: dS = P ∘ (dP − rowsum(P ∘ dP)).
            let dp_mat = MatMut::row_major(&mut *dp, n, m);
            sgemm(1.0, d_out, v.get(b).t(), 0.0, dp_mat, Parallelism::None);
            softmax_backward_rows(&probs[b * n * m..(b + 1) * n * m], dp, m, ds);
            let ds = MatRef::row_major(&*ds, n, m);
            // S = scale·Q·Kᵀ: dQ = scale·dS·K, dK = scale·dSᵀ·Q.
            sgemm(scale, ds, k.get(b), 0.0, MatMut::row_major(dq, n, d), Parallelism::None);
            sgemm(scale, ds.t(), q.get(b), 0.0, MatMut::row_major(dk, m, d), Parallelism::None);
        });
    });
}

#[cfg(test)]
#[path = "attention_tests.rs"]
mod tests;
