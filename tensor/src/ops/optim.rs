//! Fused optimiser updates: one pass per parameter instead of a chain of elementwise ops, and on the
//! GPU one launch for all parameters.

use crate::cpu::adamw::{adamw, AdamWInputs, AdamWOutputs, AdamWScalars};
use crate::dtype::Element;
use crate::ops::float_dispatch;
use crate::{gpu, Device, Tensor};

/// The hyper-parameters of one AdamW step (t counts from 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWStep {
    /// Learning rate: scales the Adam step, and the weight decay (w ← w·(1 − lr·weight_decay)).
    pub lr: f64,
    /// Decay of the first moment, m ← β1·m + (1 − β1)·g (usually 0.9).
    pub beta1: f64,
    /// Decay of the second moment, v ← β2·v + (1 − β2)·g² (usually 0.999).
    pub beta2: f64,
    /// Added to √(v / (1 − β2^t)) in the denominator, keeping it away from 0 (usually 1e-8).
    pub eps: f64,
    /// Decoupled weight decay (0 for parameters that are not decayed).
    pub weight_decay: f64,
    /// The step number, from 1, for the bias corrections 1 − β^t (t = 0 would divide by zero).
    pub t: u64,
    /// Multiplies the gradient before anything else.
    pub grad_scale: f64,
}

/// One parameter of [`Tensor::adamw_update_many`]: its weights, gradient, moments and step.
#[derive(Clone, Copy, Debug)]
pub struct AdamWParam<'a> {
    /// The parameter's weights (f32 or f64; f32 on the GPU).
    pub w: &'a Tensor,
    /// Its gradient: same shape and dtype as `w` (checked).
    pub grad: &'a Tensor,
    /// Its first moment (running mean of the gradient), same shape and dtype; zeros before the
    /// first step.
    pub m: &'a Tensor,
    /// Its second moment (running mean of the squared gradient), same shape and dtype.
    pub v: &'a Tensor,
    /// The hyper-parameters of this update.
    pub step: AdamWStep,
}

fn fused<T: crate::cpu::Float + Element>(s: &AdamWStep, w: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor) -> [Tensor; 3] {
    let k = AdamWScalars::<T>::new(s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.t, s.grad_scale);
    let (wv, gv, mv, vv) = (w.values::<T>(), g.values::<T>(), m.values::<T>(), v.values::<T>());
    let n = wv.len();
    let (mut wo, mut mo, mut vo) =
        (crate::pool::for_overwrite(n), crate::pool::for_overwrite(n), crate::pool::for_overwrite(n));
    let inputs = AdamWInputs { w: &wv, g: &gv, m: &mv, v: &vv };
    adamw(&k, inputs, AdamWOutputs { w: &mut wo, m: &mut mo, v: &mut vo });
    [wo, mo, vo].map(|x| Tensor::from_values(x, w.shape().clone()))
}

/// Panics unless the gradient and moments match the parameter in shape and dtype, and the step
/// counts from 1 (at t = 0 the bias corrections 1 − β^t are 0, and the weights would turn to NaN).
fn check_operands(p: &AdamWParam) {
    assert!(p.step.t >= 1, "adamw_update: the step number t counts from 1, got 0");
    for (what, t) in [("gradient", p.grad), ("first moment", p.m), ("second moment", p.v)] {
        assert!(
            t.shape() == p.w.shape() && t.dtype() == p.w.dtype(),
            "adamw_update: the {what} is {} {:?}, the parameter {} {:?}",
            t.dtype(),
            t.shape(),
            p.w.dtype(),
            p.w.shape()
        );
    }
}

/// The GPU every operand of every parameter is on, when it is one GPU and the steps differ at most in
/// weight decay (what one launch of the multi-tensor kernel can do).
fn one_launch(params: &[AdamWParam]) -> Option<usize> {
    let first = params.first()?;
    let Device::Gpu(ordinal) = first.w.device() else { return None };
    let shared = |s: AdamWStep| AdamWStep { weight_decay: 0.0, ..s };
    let here = |t: &Tensor| t.device() == first.w.device();
    params
        .iter()
        .all(|p| [p.w, p.grad, p.m, p.v].into_iter().all(here) && shared(p.step) == shared(first.step))
        .then_some(ordinal)
}

impl Tensor {
    /// One AdamW update of the parameter `self` from its gradient and moments: returns the new
    /// (weights, first moment, second moment). Decoupled decay is applied to the weights before the
    /// Adam step, as in PyTorch's `AdamW`; the result is bit for bit that of the same update written
    /// with elementwise ops, in one pass over memory (on the GPU, one launch of the fused kernel, with
    /// the same bits).
    pub fn adamw_update(&self, grad: &Tensor, m: &Tensor, v: &Tensor, step: &AdamWStep) -> (Tensor, Tensor, Tensor) {
        let p = AdamWParam { w: self, grad, m, v, step: *step };
        check_operands(&p);
        if let Some(ordinal) = gpu::placement(&"adamw_update", &[self, grad, m, v]) {
            return gpu::optim::adamw_update_many(ordinal, &[p]).remove(0);
        }
        let [w, m, v] = float_dispatch!(self.dtype(), "adamw_update", T => fused::<T>(step, self, grad, m, v));
        (w, m, v)
    }

    /// [`Tensor::adamw_update`] of several parameters, in order. On a GPU, when all are on one device
    /// and their steps differ at most in weight decay (one optimiser step), a single launch of the
    /// multi-tensor kernel updates them all; the bits are those of separate updates either way. The
    /// new values of all parameters exist before the caller drops the old ones, so this needs room
    /// for one more copy of the weights and moments than updating one parameter at a time.
    pub fn adamw_update_many(params: &[AdamWParam]) -> Vec<(Tensor, Tensor, Tensor)> {
        params.iter().for_each(check_operands);
        match one_launch(params) {
            Some(ordinal) => gpu::optim::adamw_update_many(ordinal, params),
            None => params.iter().map(|p| p.w.adamw_update(p.grad, p.m, p.v, &p.step)).collect(),
        }
    }
}
