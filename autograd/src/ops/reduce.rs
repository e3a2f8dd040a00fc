//! Reductions. The gradient of a sum spreads `g` back over the reduced axes; a mean also divides
//! by the count; max/min send it to the elements that attained the extreme (split evenly on ties).

use tensor::{CmpOp, Shape, Tensor};

use crate::tape::record;
use crate::Var;

/// `g` (reduced over `axes`, with or without the reduced dims kept) broadcast back to the input's
/// shape `x`.
fn spread(g: &Tensor, x: &Shape, axes: &[isize]) -> Tensor {
    let mut kept = x.dims().to_vec();
    let resolved = if axes.is_empty() { (0..x.rank()).collect() } else { x.axes(axes) };
    for &a in &resolved {
        kept[a] = 1;
    }
    g.reshape(kept).broadcast_to(x.clone()).contiguous()
}

impl Var {
    /// Sum over `axes` (empty: all).
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Var {
        // Only the input's shape is kept for the backward, not its values.
        let (shape, axes_v) = (self.shape().clone(), axes.to_vec());
        record(self.value().sum(axes, keepdim), &[self], move |g| vec![Some(spread(g, &shape, &axes_v))])
    }

    /// Mean over `axes` (empty: all).
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Var {
        let (shape, axes_v) = (self.shape().clone(), axes.to_vec());
        let y = self.value().mean(axes, keepdim);
        let count = (shape.numel() / y.numel().max(1)) as f64;
        record(y, &[self], move |g| vec![Some(spread(g, &shape, &axes_v).div_scalar(count))])
    }

    /// Sum of every element (a scalar).
    pub fn sum_all(&self) -> Var {
        self.sum(&[], false)
    }

    /// Mean of every element (a scalar).
    pub fn mean_all(&self) -> Var {
        self.mean(&[], false)
    }

    /// Largest element over `axes` (empty: all); the gradient goes to the elements equal to it, split
    /// evenly on ties.
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Var {
        self.extreme(axes, keepdim, true)
    }

    /// Smallest element over `axes` (empty: all); the gradient is split like [`Var::max`]'s.
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Var {
        self.extreme(axes, keepdim, false)
    }

    fn extreme(&self, axes: &[isize], keepdim: bool, largest: bool) -> Var {
        let (x, axes_v) = (self.value().clone(), axes.to_vec());
        let y = if largest { x.max(axes, keepdim) } else { x.min(axes, keepdim) };
        let saved = y.clone();
        record(y, &[self], move |g| {
            let at = x.compare(CmpOp::Eq, &spread(&saved, x.shape(), &axes_v)).to_dtype(x.dtype());
            let ties = spread(&at.sum(&axes_v, true), x.shape(), &axes_v);
            vec![Some(spread(g, x.shape(), &axes_v).mul(&at).div(&ties))]
        })
    }

    /// Variance over `axes` with Bessel's `correction`.
    pub fn var(&self, axes: &[isize], correction: usize, keepdim: bool) -> Var {
        let (x, axes_v) = (self.value().clone(), axes.to_vec());
        let y = x.var(axes, correction, keepdim);
        let denom = (x.numel() / y.numel().max(1) - correction) as f64;
        record(y, &[self], move |g| {
            let centred = x.sub(&x.mean(&axes_v, true));
            vec![Some(spread(g, x.shape(), &axes_v).mul(&centred).mul_scalar(2.0 / denom))]
        })
    }
}
