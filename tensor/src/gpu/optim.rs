//! The AdamW update on the GPU, written as the composite of elementwise GPU ops that the CPU's fused
//! pass reproduces bit for bit (`cpu/adamw.rs`): the GPU's add, mul, div and sqrt round like the
//! CPU's, so both devices give the same bits. Eleven launches per parameter; the fused multi-tensor
//! kernel of `kernels::adamw` is not wired in yet.

use crate::{AdamWStep, Tensor};

/// (weights, first moment, second moment) after one step, all on the parameter's GPU.
pub(crate) fn adamw_update(w: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor, s: &AdamWStep) -> (Tensor, Tensor, Tensor) {
    let (bias1, bias2) = (1.0 - s.beta1.powi(s.t as i32), 1.0 - s.beta2.powi(s.t as i32));
    let g = if s.grad_scale == 1.0 { g.clone() } else { g.mul_scalar(s.grad_scale) };
    let m = &m.mul_scalar(s.beta1) + &g.mul_scalar(1.0 - s.beta1);
    let v = &v.mul_scalar(s.beta2) + &g.square().mul_scalar(1.0 - s.beta2);
    let w = if s.weight_decay != 0.0 { w.mul_scalar(1.0 - s.lr * s.weight_decay) } else { w.clone() };
    let denom = v.div_scalar(bias2).sqrt().add_scalar(s.eps);
    let update = m.div(&denom).mul_scalar(s.lr / bias1);
    (w.sub(&update), m, v)
}
