//! Softmax and layer norm on the GPU. Softmax and its backward, and layer norm forward and backward,
//! are the fused kernels of `kernels::{softmax, layernorm}` over rows of the last axis (another axis is
//! transposed last and copied); log-softmax and its backward are composed from GPU reductions and maps.

use kernels::{layernorm, softmax};

use super::copy::{alloc_f32, dense_f32, f32_slice, wrap_f32};
use super::{check, runtime};
use crate::{DType, Device, LayerNormGrads, LayerNormOutput, Tensor};

/// `x` with `axis` swapped last (a view), and whether it was swapped (the result swaps back).
fn axis_last(x: &Tensor, axis: isize) -> (Tensor, Option<(isize, isize)>) {
    let (a, last) = (x.shape().axis(axis) as isize, x.rank() as isize - 1);
    if a == last {
        (x.clone(), None)
    } else {
        (x.transpose(a, last), Some((a, last)))
    }
}

fn restore(y: Tensor, swap: Option<(isize, isize)>) -> Tensor {
    match swap {
        Some((a, b)) => y.transpose(a, b),
        None => y,
    }
}

fn ordinal(x: &Tensor) -> usize {
    x.gpu_storage().unwrap().ordinal()
}

/// Softmax along `axis`.
pub(crate) fn softmax(x: &Tensor, axis: isize) -> Tensor {
    let what = "softmax";
    let n = ordinal(x);
    let (moved, swap) = axis_last(x, axis);
    let src = dense_f32(&moved, what);
    let cols = moved.dim(-1);
    let rows = src.numel() / cols.max(1);
    let out = alloc_f32(what, n, src.numel());
    if src.numel() > 0 {
        check(what, n, softmax::forward(&runtime(n), &out, &f32_slice(&src, what), rows, cols));
    }
    restore(wrap_f32(n, out, moved.shape().clone()), swap)
}

/// Gradient of softmax from its output `y` and the gradient `dy` of that output.
pub(crate) fn softmax_backward(y: &Tensor, dy: &Tensor, axis: isize) -> Tensor {
    let what = "softmax_backward";
    let n = ordinal(y);
    let ((my, swap), (mdy, _)) = (axis_last(y, axis), axis_last(dy, axis));
    let (ys, dys) = (dense_f32(&my, what), dense_f32(&mdy, what));
    let cols = my.dim(-1);
    let rows = ys.numel() / cols.max(1);
    let out = alloc_f32(what, n, ys.numel());
    if ys.numel() > 0 {
        let (yb, dyb) = (f32_slice(&ys, what), f32_slice(&dys, what));
        check(what, n, softmax::backward(&runtime(n), &out, &yb, &dyb, rows, cols));
    }
    restore(wrap_f32(n, out, my.shape().clone()), swap)
}

/// x - max - ln(sum(exp(x - max))) along `axis`, from GPU reductions and maps.
pub(crate) fn log_softmax(x: &Tensor, axis: isize) -> Tensor {
    let shifted = x.sub(&x.max(&[axis], true));
    let lse = shifted.exp().sum(&[axis], true).log();
    shifted.sub(&lse)
}

/// Gradient of log-softmax: dy - exp(y) * sum(dy) along `axis`.
pub(crate) fn log_softmax_backward(y: &Tensor, dy: &Tensor, axis: isize) -> Tensor {
    dy.sub(&y.exp().mul(&dy.sum(&[axis], true)))
}

/// The weight, or ones (bias: zeros) when there is none: the kernel always applies both.
fn param_or(p: Option<&Tensor>, d: usize, value: f64, n: usize, what: &str) -> Tensor {
    match p {
        Some(p) => dense_f32(p, what),
        None => Tensor::full_on([d], value, DType::F32, Device::Gpu(n)),
    }
}

/// Layer norm over the last dim, with its row statistics.
pub(crate) fn layer_norm(x: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>, eps: f64) -> LayerNormOutput {
    let what = "layer_norm";
    let n = ordinal(x);
    let d = x.dim(-1);
    let src = dense_f32(x, what);
    let rows = src.numel() / d.max(1);
    let (w, b) = (param_or(w, d, 1.0, n, what), param_or(b, d, 0.0, n, what));
    let (y, mean, rstd) = (alloc_f32(what, n, src.numel()), alloc_f32(what, n, rows), alloc_f32(what, n, rows));
    if src.numel() > 0 {
        let (xs, ws, bs) = (f32_slice(&src, what), f32_slice(&w, what), f32_slice(&b, what));
        check(what, n, layernorm::forward(&runtime(n), &y, &mean, &rstd, &xs, &ws, &bs, d, eps as f32));
    }
    let stats = x.dims()[..x.rank() - 1].to_vec();
    LayerNormOutput {
        y: wrap_f32(n, y, x.shape().clone()),
        mean: wrap_f32(n, mean, stats.clone()),
        rstd: wrap_f32(n, rstd, stats),
    }
}

/// Layer norm backward from the saved statistics.
pub(crate) fn layer_norm_backward(
    x: &Tensor,
    dy: &Tensor,
    weight: Option<&Tensor>,
    stats: (&Tensor, &Tensor),
    want: (bool, bool),
) -> LayerNormGrads {
    let what = "layer_norm_backward";
    let n = ordinal(x);
    let d = x.dim(-1);
    let (xs, dys) = (dense_f32(x, what), dense_f32(dy, what));
    let (mean, rstd) = (dense_f32(stats.0, what), dense_f32(stats.1, what));
    let w = param_or(weight, d, 1.0, n, what);
    let (dx, dw, db) = (alloc_f32(what, n, xs.numel()), alloc_f32(what, n, d), alloc_f32(what, n, d));
    if xs.numel() > 0 {
        let saved = layernorm::Saved {
            x: &f32_slice(&xs, what),
            w: &f32_slice(&w, what),
            mean: &f32_slice(&mean, what),
            rstd: &f32_slice(&rstd, what),
        };
        check(what, n, layernorm::backward(&runtime(n), &dx, &dw, &db, &f32_slice(&dys, what), &saved, d));
    } else {
        return LayerNormGrads {
            dx: wrap_f32(n, dx, x.shape().clone()),
            dweight: want.0.then(|| Tensor::zeros_on([d], DType::F32, Device::Gpu(n))),
            dbias: want.1.then(|| Tensor::zeros_on([d], DType::F32, Device::Gpu(n))),
        };
    }
    LayerNormGrads {
        dx: wrap_f32(n, dx, x.shape().clone()),
        dweight: want.0.then(|| wrap_f32(n, dw, [d])),
        dbias: want.1.then(|| wrap_f32(n, db, [d])),
    }
}
