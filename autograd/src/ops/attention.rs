//! Scaled dot-product attention, composed from differentiable ops (a fused version, when it
//! comes, is tested against this one).

use crate::Var;

impl Var {
    /// softmax(q·kᵀ · scale) · v over [..., Nq, d] queries and [..., Nk, d] keys and values.
    pub fn scaled_dot_product_attention(q: &Var, k: &Var, v: &Var, scale: f64) -> Var {
        q.matmul(&k.transpose(-2, -1)).mul_scalar(scale).softmax(-1).matmul(v)
    }
}
