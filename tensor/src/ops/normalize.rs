//! Row-wise normalisations: softmax, log-softmax (over any axis) and layer norm (over the last axis).
//!
//! The kernels work on contiguous rows; an axis other than the last is swapped to the end first
//! (one copy) and the result swapped back as a view.

use super::float_dispatch;
use crate::cpu::layernorm;
use crate::cpu::mathfn::FloatMath;
use crate::cpu::softmax;
use crate::dtype::Element;
use crate::gpu;
use crate::Tensor;

type RowKernel<T> = fn(&[T], usize, &mut [T]);
type RowKernel2<T> = fn(&[T], &[T], usize, &mut [T]);

/// `x` with `axis` swapped to the end (a view), and the swap that undoes it.
fn axis_last(x: &Tensor, axis: isize) -> (Tensor, impl Fn(Tensor) -> Tensor) {
    let (a, last) = (x.shape().axis(axis) as isize, x.rank() as isize - 1);
    let moved = if a == last { x.clone() } else { x.transpose(a, last) };
    (moved, move |y: Tensor| if a == last { y } else { y.transpose(a, last) })
}

fn along_axis<T: FloatMath + Element>(x: &Tensor, axis: isize, kernel: RowKernel<T>) -> Tensor {
    let (moved, restore) = axis_last(x, axis);
    let src = moved.values::<T>();
    let mut out = crate::pool::for_overwrite(src.len());
    if !src.is_empty() {
        kernel(&src, moved.dim(-1), &mut out);
    }
    restore(Tensor::from_values(out, moved.shape().clone()))
}

/// A row kernel of two same-shaped inputs (a backward: output and its gradient) along `axis`.
fn along_axis2<T: FloatMath + Element>(y: &Tensor, dy: &Tensor, axis: isize, kernel: RowKernel2<T>) -> Tensor {
    assert_eq!(y.shape(), dy.shape(), "backward: output {:?} and gradient {:?} differ", y.shape(), dy.shape());
    let ((my, restore), (mdy, _)) = (axis_last(y, axis), axis_last(dy, axis));
    let (a, b) = (my.values::<T>(), mdy.values::<T>());
    let mut out = crate::pool::for_overwrite(a.len());
    if !a.is_empty() {
        kernel(&a, &b, my.dim(-1), &mut out);
    }
    restore(Tensor::from_values(out, my.shape().clone()))
}

/// Layer norm output with the per-row statistics the backward pass needs.
pub struct LayerNormOutput {
    /// Normalised, scaled and shifted values, shaped like the input.
    pub y: Tensor,
    /// Mean of each row, shaped like the input without its last dim.
    pub mean: Tensor,
    /// 1/sqrt(var + eps) of each row, same shape as `mean`.
    pub rstd: Tensor,
}

fn layer_norm_impl<T: FloatMath + Element>(
    x: &Tensor,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    eps: f64,
) -> LayerNormOutput {
    let d = x.dim(-1);
    let rows = x.numel() / d.max(1);
    let src = x.values::<T>();
    let (wv, bv) = (w.map(|t| t.values::<T>()), b.map(|t| t.values::<T>()));
    let mut y = crate::pool::for_overwrite(src.len());
    let (mut mean, mut rstd) = (crate::pool::zeroed(rows), crate::pool::zeroed(rows));
    if !src.is_empty() {
        layernorm::layer_norm_rows(
            &src,
            d,
            wv.as_deref(),
            bv.as_deref(),
            <T as crate::cpu::Float>::from_f64(eps),
            &mut y,
            &mut mean,
            &mut rstd,
        );
    }
    let stat_shape = x.dims()[..x.rank() - 1].to_vec();
    LayerNormOutput {
        y: Tensor::from_values(y, x.shape().clone()),
        mean: Tensor::from_values(mean, stat_shape.clone()),
        rstd: Tensor::from_values(rstd, stat_shape),
    }
}

/// Gradients of a layer norm: of its input, and of its weight and bias when it has them.
pub struct LayerNormGrads {
    /// Gradient of the input, shaped like it.
    pub dx: Tensor,
    /// Σ over rows of dy · x̂ (x̂ the normalised input), shape `[D]`; `Some` exactly when
    /// `want_dweight` was passed, whether or not the forward had a weight.
    pub dweight: Option<Tensor>,
    /// Σ over rows of dy, shape `[D]`; `Some` exactly when `want_dbias` was passed.
    pub dbias: Option<Tensor>,
}

fn layer_norm_backward_impl<T: FloatMath + Element>(
    x: &Tensor,
    dy: &Tensor,
    weight: Option<&Tensor>,
    stats: (&Tensor, &Tensor),
    params: (bool, bool),
) -> LayerNormGrads {
    let d = x.dim(-1);
    let (xv, dyv) = (x.values::<T>(), dy.values::<T>());
    let (mean, rstd) = (stats.0.values::<T>(), stats.1.values::<T>());
    let wv = weight.map(|w| w.values::<T>());
    let mut dx = crate::pool::zeroed(xv.len());
    let (mut dw, mut db) = (crate::pool::zeroed(d), crate::pool::zeroed(d));
    layernorm::layer_norm_backward_rows(
        &xv,
        &dyv,
        d,
        wv.as_deref(),
        &mean,
        &rstd,
        &mut dx,
        params.0.then_some(&mut dw[..]),
        params.1.then_some(&mut db[..]),
    );
    LayerNormGrads {
        dx: Tensor::from_values(dx, x.shape().clone()),
        dweight: params.0.then(|| Tensor::from_values(dw, [d])),
        dbias: params.1.then(|| Tensor::from_values(db, [d])),
    }
}

impl Tensor {
    /// exp(x − max) / Σ exp(x − max) along `axis`.
    pub fn softmax(&self, axis: isize) -> Tensor {
        if gpu::on_gpu(self) {
            return gpu::normalize::softmax(self, axis);
        }
        float_dispatch!(self.dtype(), "softmax", T => along_axis::<T>(self, axis, softmax::softmax_rows::<T>))
    }

    /// x − max − ln Σ exp(x − max) along `axis`.
    pub fn log_softmax(&self, axis: isize) -> Tensor {
        if gpu::on_gpu(self) {
            return gpu::normalize::log_softmax(self, axis);
        }
        float_dispatch!(self.dtype(), "log_softmax", T => along_axis::<T>(self, axis, softmax::log_softmax_rows::<T>))
    }

    /// Gradient of `softmax(axis)` given its output `y` and the gradient `dy` of that output.
    pub fn softmax_backward(y: &Tensor, dy: &Tensor, axis: isize) -> Tensor {
        if gpu::placement(&"softmax_backward", &[y, dy]).is_some() {
            return gpu::normalize::softmax_backward(y, dy, axis);
        }
        float_dispatch!(y.dtype(), "softmax_backward", T =>
            along_axis2::<T>(y, dy, axis, softmax::softmax_backward_rows::<T>))
    }

    /// Gradient of `log_softmax(axis)` given its output `y` and the gradient `dy` of that output.
    pub fn log_softmax_backward(y: &Tensor, dy: &Tensor, axis: isize) -> Tensor {
        if gpu::placement(&"log_softmax_backward", &[y, dy]).is_some() {
            return gpu::normalize::log_softmax_backward(y, dy, axis);
        }
        float_dispatch!(y.dtype(), "log_softmax_backward", T =>
            along_axis2::<T>(y, dy, axis, softmax::log_softmax_backward_rows::<T>))
    }

    /// Layer norm over the last dim with optional affine `weight` and `bias` (each of that dim's size).
    pub fn layer_norm(&self, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f64) -> Tensor {
        self.layer_norm_with_stats(weight, bias, eps).y
    }

    /// Layer norm, also returning the row means and reciprocal standard deviations.
    pub fn layer_norm_with_stats(&self, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f64) -> LayerNormOutput {
        assert!(self.rank() >= 1, "layer_norm needs at least one dimension");
        let d = self.dim(-1);
        // A row of nothing has no mean: an error rather than rows of NaN statistics.
        assert!(d > 0, "layer_norm over an empty last dimension (shape {:?})", self.shape());
        for (name, p) in [("weight", weight), ("bias", bias)] {
            if let Some(p) = p {
                assert_eq!(p.dims(), &[d], "layer_norm {name} has shape {:?}, expected [{d}]", p.shape());
                assert_eq!(p.dtype(), self.dtype(), "layer_norm {name} is {}, input is {}", p.dtype(), self.dtype());
            }
        }
        if gpu::on_gpu(self) || weight.is_some_and(gpu::on_gpu) || bias.is_some_and(gpu::on_gpu) {
            let operands: Vec<&Tensor> = std::iter::once(self).chain(weight).chain(bias).collect();
            gpu::placement(&"layer_norm", &operands);
            return gpu::normalize::layer_norm(self, weight, bias, eps);
        }
        float_dispatch!(self.dtype(), "layer_norm", T => layer_norm_impl::<T>(self, weight, bias, eps))
    }

    /// Backward of `layer_norm_with_stats`: `dy` is the gradient of its output, `mean` and `rstd`
    /// its saved statistics; `want_dweight` / `want_dbias` ask for the parameter gradients.
    pub fn layer_norm_backward(
        x: &Tensor,
        dy: &Tensor,
        weight: Option<&Tensor>,
        mean: &Tensor,
        rstd: &Tensor,
        want_dweight: bool,
        want_dbias: bool,
    ) -> LayerNormGrads {
        assert_eq!(
            x.shape(),
            dy.shape(),
            "layer_norm_backward: input {:?} and gradient {:?} differ",
            x.shape(),
            dy.shape()
        );
        if gpu::on_gpu(x) || gpu::on_gpu(dy) {
            let operands: Vec<&Tensor> = [x, dy, mean, rstd].into_iter().chain(weight).collect();
            gpu::placement(&"layer_norm_backward", &operands);
            return gpu::normalize::layer_norm_backward(x, dy, weight, (mean, rstd), (want_dweight, want_dbias));
        }
        float_dispatch!(x.dtype(), "layer_norm_backward", T =>
            layer_norm_backward_impl::<T>(x, dy, weight, (mean, rstd), (want_dweight, want_dbias)))
    }
}
