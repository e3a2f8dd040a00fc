//! Row-wise normalisations: softmax, log-softmax (over any axis) and layer norm (over the last axis).
//!
//! The kernels work on contiguous rows; an axis other than the last is swapped to the end first
//! (one copy) and the result swapped back as a view.

use super::float_dispatch;
use crate::cpu::layernorm;
use crate::cpu::mathfn::FloatMath;
use crate::cpu::softmax;
use crate::dtype::Element;
use crate::Tensor;

type RowKernel<T> = fn(&[T], usize, &mut [T]);

fn along_axis<T: FloatMath + Element>(x: &Tensor, axis: isize, kernel: RowKernel<T>) -> Tensor {
    let (a, last) = (x.shape().axis(axis), x.rank() - 1);
    let moved = if a == last { x.clone() } else { x.transpose(a as isize, last as isize) };
    let src = moved.values::<T>();
    let mut out = vec![T::default(); src.len()];
    if !src.is_empty() {
        kernel(&src, moved.dims()[last], &mut out);
    }
    let y = Tensor::from_values(out, moved.shape().clone());
    if a == last {
        y
    } else {
        y.transpose(a as isize, last as isize)
    }
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
    let mut y = vec![T::default(); src.len()];
    let (mut mean, mut rstd) = (vec![T::default(); rows], vec![T::default(); rows]);
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

impl Tensor {
    /// exp(x − max) / Σ exp(x − max) along `axis`.
    pub fn softmax(&self, axis: isize) -> Tensor {
        float_dispatch!(self.dtype(), "softmax", T => along_axis::<T>(self, axis, softmax::softmax_rows::<T>))
    }

    /// x − max − ln Σ exp(x − max) along `axis`.
    pub fn log_softmax(&self, axis: isize) -> Tensor {
        float_dispatch!(self.dtype(), "log_softmax", T => along_axis::<T>(self, axis, softmax::log_softmax_rows::<T>))
    }

    /// Layer norm over the last dim with optional affine `weight` and `bias` (each of that dim's size).
    pub fn layer_norm(&self, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f64) -> Tensor {
        self.layer_norm_with_stats(weight, bias, eps).y
    }

    /// Layer norm, also returning the row means and reciprocal standard deviations.
    pub fn layer_norm_with_stats(&self, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f64) -> LayerNormOutput {
        assert!(self.rank() >= 1, "layer_norm needs at least one dimension");
        let d = self.dim(-1);
        for (name, p) in [("weight", weight), ("bias", bias)] {
            if let Some(p) = p {
                assert_eq!(p.dims(), &[d], "layer_norm {name} has shape {:?}, expected [{d}]", p.shape());
                assert_eq!(p.dtype(), self.dtype(), "layer_norm {name} is {}, input is {}", p.dtype(), self.dtype());
            }
        }
        float_dispatch!(self.dtype(), "layer_norm", T => layer_norm_impl::<T>(self, weight, bias, eps))
    }
}
