//! Scaled dot-product attention: a fused op where `tensor` has one (f32 on the CPU; the flash
//! kernels on a GPU), elsewhere composed from differentiable ops (f64 gradient checks, head widths
//! the GPU kernels lack). The fused ops are tested against the composite (`tests/attention.rs`,
//! `tests/gpu_device.rs`).

use tensor::Tensor;

use crate::tape::record;
use crate::Var;

impl Var {
    /// softmax((q · scale)·kᵀ) · v over `[..., Nq, d]` queries, `[..., Nk, d]` keys and `[..., Nk, e]`
    /// values.
    ///
    /// The scale goes on q, as in BEiT and CAE: q holds Nq·d values where the scores hold Nq·Nk
    /// (99·32 against 99·99 in a CAE-Small block), so scaling it is the smaller pass, forward and back.
    /// When [`Tensor::attention_is_fused`] (f32 on the CPU with the same batch dims for all three;
    /// f32 on one GPU with Nq = Nk, e = d and a generated head dimension), the fused op runs
    /// instead, forward and backward.
    pub fn scaled_dot_product_attention(q: &Var, k: &Var, v: &Var, scale: f64) -> Var {
        let (qv, kv, vv) = (q.value(), k.value(), v.value());
        if Tensor::attention_is_fused(qv, kv, vv) {
            // The probabilities on the CPU, each row's logsumexp on a GPU.
            let (out, saved_for_backward) = Tensor::attention_forward(qv, kv, vv, scale);
            let saved = (qv.clone(), kv.clone(), vv.clone(), out.clone());
            return record(out, &[q, k, v], move |g| {
                let (q, k, v, out) = &saved;
                let (dq, dk, dv) = Tensor::attention_backward(q, k, v, out, &saved_for_backward, g, scale);
                vec![Some(dq), Some(dk), Some(dv)]
            });
        }
        q.mul_scalar(scale).matmul(&k.transpose(-2, -1)).softmax(-1).matmul(v)
    }
}
