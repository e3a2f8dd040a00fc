//! Scaled dot-product attention, composed from differentiable ops (a fused version, when it
//! comes, is tested against this one).

use crate::Var;

impl Var {
    /// softmax((q · scale)·kᵀ) · v over [..., Nq, d] queries and [..., Nk, d] keys and values.
    ///
    /// The scale goes on q, as in BEiT and CAE: q holds Nq·d values where the scores hold Nq·Nk
    /// (99·32 against 99·99 in a CAE-Small block), so scaling it is the smaller pass, forward and back.
    pub fn scaled_dot_product_attention(q: &Var, k: &Var, v: &Var, scale: f64) -> Var {
        q.mul_scalar(scale).matmul(&k.transpose(-2, -1)).softmax(-1).matmul(v)
    }
}
