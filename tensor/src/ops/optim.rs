//! Fused optimiser updates: one pass per parameter instead of a chain of elementwise ops.

use crate::cpu::adamw::{adamw, AdamWInputs, AdamWOutputs, AdamWScalars};
use crate::dtype::Element;
use crate::ops::float_dispatch;
use crate::{gpu, Tensor};

/// The hyper-parameters of one AdamW step (t counts from 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay (0 for parameters that are not decayed).
    pub weight_decay: f64,
    pub t: u64,
    /// Multiplies the gradient before anything else.
    pub grad_scale: f64,
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

impl Tensor {
    /// One AdamW update of the parameter `self` from its gradient and moments: returns the new
    /// (weights, first moment, second moment). Decoupled decay is applied to the weights before the
    /// Adam step, as in PyTorch's `AdamW`; the result is bit for bit that of the same update written
    /// with elementwise ops, in one pass over memory.
    pub fn adamw_update(&self, grad: &Tensor, m: &Tensor, v: &Tensor, step: &AdamWStep) -> (Tensor, Tensor, Tensor) {
        for (what, t) in [("gradient", grad), ("first moment", m), ("second moment", v)] {
            assert!(
                t.shape() == self.shape() && t.dtype() == self.dtype(),
                "adamw_update: the {what} is {} {:?}, the parameter {} {:?}",
                t.dtype(),
                t.shape(),
                self.dtype(),
                self.shape()
            );
        }
        if gpu::placement(&"adamw_update", &[self, grad, m, v]).is_some() {
            return gpu::optim::adamw_update(self, grad, m, v, step);
        }
        let [w, m, v] = float_dispatch!(self.dtype(), "adamw_update", T => fused::<T>(step, self, grad, m, v));
        (w, m, v)
    }
}
