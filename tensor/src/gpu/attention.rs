//! Attention on the GPU through the flash-style kernels of `kernels::attention`: the batch and head
//! dims of `[..., N, d]` operands are flattened into the kernels' `bh` independent blocks (after a
//! contiguous copy of any operand that is a strided view, as q, k, v split from one projection are).

use kernels::attention::{self, Saved};

use super::copy::{alloc_f32, dense_f32, f32_slice, wrap_f32};
use super::{check, runtime};
use crate::Tensor;

/// (batch·heads, N, d) of an operand `[..., N, d]`.
fn blocks(q: &Tensor) -> (usize, usize, usize) {
    let (n, d) = (q.dim(-2), q.dim(-1));
    (q.dims()[..q.rank() - 2].iter().product(), n, d)
}

fn ordinal(q: &Tensor) -> usize {
    q.gpu_storage().expect("attention on the GPU path").ordinal()
}

/// (out `[..., N, d]`, lse `[..., N]`).
pub(crate) fn forward(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> (Tensor, Tensor) {
    let (op, n) = ("attention_forward", ordinal(q));
    let shape = blocks(q);
    let [q, k, v] = [q, k, v].map(|t| dense_f32(t, op));
    let (out, lse) = (alloc_f32(op, n, q.numel()), alloc_f32(op, n, shape.0 * shape.1));
    let [qs, ks, vs] = [&q, &k, &v].map(|t| f32_slice(t, op));
    check(op, n, attention::forward(&runtime(n), &out, &lse, &qs, &ks, &vs, shape, scale as f32));
    (wrap_f32(n, out, q.shape().clone()), wrap_f32(n, lse, &q.dims()[..q.rank() - 1]))
}

/// (dq, dk, dv), each shaped like q.
pub(crate) fn backward(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    out: &Tensor,
    lse: &Tensor,
    dout: &Tensor,
    scale: f64,
) -> (Tensor, Tensor, Tensor) {
    let (op, n) = ("attention_backward", ordinal(q));
    let shape = blocks(q);
    let [q, k, v, out, lse, dout] = [q, k, v, out, lse, dout].map(|t| dense_f32(t, op));
    let grads = [(); 3].map(|_| alloc_f32(op, n, q.numel()));
    let [qs, ks, vs, os, ls, dos] = [&q, &k, &v, &out, &lse, &dout].map(|t| f32_slice(t, op));
    let saved = Saved { q: &qs, k: &ks, v: &vs, out: &os, lse: &ls };
    let [dq, dk, dv] = &grads;
    check(op, n, attention::backward(&runtime(n), dq, dk, dv, &dos, &saved, shape, scale as f32));
    let [dq, dk, dv] = grads.map(|g| wrap_f32(n, g, q.shape().clone()));
    (dq, dk, dv)
}
