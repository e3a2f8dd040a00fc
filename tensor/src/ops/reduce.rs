//! Reductions over any set of axes, with or without keeping the reduced dims.
//!
//! Every reduction becomes the kernel's `[outer, len, inner]` form: when the reduced axes are
//! adjacent in a contiguous tensor that is just a reinterpretation (no copy; e.g. summing
//! [B, N, D] over B and N is `outer = 1, len = B·N, inner = D`); otherwise the kept axes are permuted
//! to the front and the reduced ones to the back, and one copy makes that contiguous.

use super::float_dispatch;
use crate::cpu::reduce::{self, ReduceOp};
use crate::dtype::Element;
use crate::gpu;
use crate::{Shape, Tensor};

/// The kernel's view of a reduction: a contiguous source seen as [outer, len, inner].
struct Plan {
    source: Tensor,
    outer: usize,
    len: usize,
    inner: usize,
    /// Shape of the result.
    out_shape: Shape,
}

/// Number of elements each output of a reduction over `axes` combines.
fn reduced_len(x: &Tensor, axes: &[isize]) -> usize {
    if axes.is_empty() {
        return x.numel();
    }
    x.shape().axes(axes).iter().map(|&k| x.dims()[k]).product()
}

fn plan(x: &Tensor, axes: &[isize], keepdim: bool) -> Plan {
    let rank = x.rank();
    let axes = if axes.is_empty() { (0..rank).collect() } else { x.shape().axes(axes) };
    let dims = x.dims();
    let out_dims: Vec<usize> = (0..rank)
        .filter_map(|k| match (axes.contains(&k), keepdim) {
            (false, _) => Some(dims[k]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    let out_shape = Shape::new(out_dims);
    let len = axes.iter().map(|&k| dims[k]).product();
    let adjacent = axes.windows(2).all(|w| w[1] == w[0] + 1);
    if x.is_contiguous() && adjacent && !axes.is_empty() {
        let (first, last) = (axes[0], axes[axes.len() - 1]);
        let outer = dims[..first].iter().product();
        let inner = dims[last + 1..].iter().product();
        return Plan { source: x.clone(), outer, len, inner, out_shape };
    }
    let mut perm: Vec<usize> = (0..rank).filter(|k| !axes.contains(k)).collect();
    let outer = perm.iter().map(|&k| dims[k]).product();
    perm.extend(&axes);
    Plan { source: x.permute(&perm).contiguous(), outer, len, inner: 1, out_shape }
}

fn run<T: Element>(p: &Plan, kernel: impl FnOnce(&[T], &mut [T])) -> Tensor {
    let mut out = crate::pool::zeroed(p.outer * p.inner);
    kernel(&p.source.values::<T>(), &mut out);
    Tensor::from_values(out, p.out_shape.clone())
}

impl Tensor {
    /// Reduce over `axes` (empty slice: all axes) with `op`.
    pub fn reduce(&self, op: ReduceOp, axes: &[isize], keepdim: bool) -> Tensor {
        if gpu::on_gpu(self) {
            return gpu::reduce::reduce(self, op, axes, keepdim);
        }
        let p = plan(self, axes, keepdim);
        float_dispatch!(self.dtype(), format!("{op:?}"), T =>
            run::<T>(&p, |x, out| reduce::reduce(op, x, p.outer, p.len, p.inner, out)))
    }

    /// Sum over `axes` (empty slice: all axes).
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Tensor {
        self.reduce(ReduceOp::Sum, axes, keepdim)
    }

    /// Mean over `axes` (empty slice: all axes).
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Tensor {
        self.sum(axes, keepdim).div_scalar(reduced_len(self, axes) as f64)
    }

    /// Largest element over `axes` (empty slice: all axes); NaN if any element is NaN, −inf over
    /// an empty axis. For the position, see [`Tensor::argmax`].
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Tensor {
        self.reduce(ReduceOp::Max, axes, keepdim)
    }

    /// Smallest element over `axes` (empty slice: all axes); NaN if any element is NaN, +inf over
    /// an empty axis.
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Tensor {
        self.reduce(ReduceOp::Min, axes, keepdim)
    }

    /// Sum of all elements, as a rank-0 tensor.
    pub fn sum_all(&self) -> Tensor {
        self.sum(&[], false)
    }

    /// Mean of all elements, as a rank-0 tensor.
    pub fn mean_all(&self) -> Tensor {
        self.mean(&[], false)
    }

    /// Variance over `axes` with Bessel's `correction` (0: population, 1: sample). Panics where the
    /// axes hold no more elements than `correction` (PyTorch returns NaN there, with a warning).
    pub fn var(&self, axes: &[isize], correction: usize, keepdim: bool) -> Tensor {
        if gpu::on_gpu(self) {
            return gpu::reduce::var(self, axes, correction, keepdim);
        }
        let p = plan(self, axes, keepdim);
        assert!(p.len > correction, "var over {} elements with correction {correction} is undefined", p.len);
        float_dispatch!(self.dtype(), "var", T =>
            run::<T>(&p, |x, out| reduce::variance(x, p.outer, p.len, p.inner, correction, out)))
    }

    /// Euclidean (L2) norm over `axes`.
    pub fn norm(&self, axes: &[isize], keepdim: bool) -> Tensor {
        self.reduce(ReduceOp::SumSquares, axes, keepdim).sqrt()
    }

    /// Index of the largest element along `axis` (the first one on ties), as i64.
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Tensor {
        self.arg_extreme(axis, keepdim, true)
    }

    /// Index of the smallest element along `axis` (the first one on ties), as i64.
    pub fn argmin(&self, axis: isize, keepdim: bool) -> Tensor {
        self.arg_extreme(axis, keepdim, false)
    }

    fn arg_extreme(&self, axis: isize, keepdim: bool, largest: bool) -> Tensor {
        if gpu::on_gpu(self) {
            return gpu::reduce::arg_extreme(self, axis, keepdim, largest);
        }
        let p = plan(self, &[axis], keepdim);
        let mut out = vec![0i64; p.outer * p.inner];
        float_dispatch!(self.dtype(), "argmax/argmin", T => {
            let x = p.source.values::<T>();
            if largest {
                reduce::argmax(&x, p.outer, p.len, p.inner, &mut out)
            } else {
                reduce::argmin(&x, p.outer, p.len, p.inner, &mut out)
            }
        });
        Tensor::from_values(out, p.out_shape)
    }

    /// Sum a broadcast result back down to `shape`, the inverse of broadcasting `shape` up to
    /// `self.shape()` (what the gradient of a broadcasting op needs).
    pub fn sum_to(&self, shape: &Shape) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        let extra = self.rank().checked_sub(shape.rank()).filter(|_| self.shape().broadcast(shape) == *self.shape());
        let extra = extra.unwrap_or_else(|| panic!("sum_to: {:?} is not a broadcast of {shape:?}", self.shape()));
        let axes: Vec<isize> = (0..self.rank())
            .filter(|&k| k < extra || (shape.dims()[k - extra] == 1 && self.dims()[k] != 1))
            .map(|k| k as isize)
            .collect();
        if axes.is_empty() {
            return self.reshape(shape.clone());
        }
        self.sum(&axes, true).reshape(shape.clone())
    }
}
