//! Multi-head attention as CAE (after BEiT) defines it: the q/k/v projections carry no bias of
//! their own; separate learnable `q_bias` and `v_bias` are added, and k gets none.

use autograd::{Param, ParamStore, Var};
use tensor::{DType, Tensor};

use super::Linear;

fn zeros(store: &mut ParamStore, name: String, dim: usize) -> Param {
    store.insert(name, Tensor::zeros([dim], DType::F32))
}

/// [B, N, H·Dh] → [B, H, N, Dh].
fn split_heads(x: &Var, heads: usize) -> Var {
    let (b, n, d) = (x.dim(0), x.dim(1), x.dim(2));
    x.reshape([b, n, heads, d / heads]).permute(&[0, 2, 1, 3])
}

/// [B, H, N, Dh] → [B, N, H·Dh].
fn merge_heads(x: &Var) -> Var {
    let (b, h, n, dh) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3));
    x.permute(&[0, 2, 1, 3]).reshape([b, n, h * dh])
}

/// Self-attention with one fused `qkv` projection (weight [3D, D]).
pub struct Attention {
    pub qkv: Linear,
    pub q_bias: Param,
    pub v_bias: Param,
    pub proj: Linear,
    pub heads: usize,
}

impl Attention {
    pub fn new(store: &mut ParamStore, name: &str, dim: usize, heads: usize, seed: u64) -> Attention {
        assert!(dim.is_multiple_of(heads), "width {dim} does not split into {heads} heads");
        Attention {
            qkv: Linear::new(store, &format!("{name}.qkv"), dim, 3 * dim, false, seed),
            q_bias: zeros(store, format!("{name}.q_bias"), dim),
            v_bias: zeros(store, format!("{name}.v_bias"), dim),
            proj: Linear::new(store, &format!("{name}.proj"), dim, dim, true, seed),
            heads,
        }
    }

    /// x [B, N, D] → [B, N, D].
    pub fn forward(&self, x: &Var) -> Var {
        let (b, n, d) = (x.dim(0), x.dim(1), x.dim(2));
        let k_bias = Var::constant(Tensor::zeros_on([d], x.dtype(), x.value().device()));
        let bias = Var::concat(&[self.q_bias.var(), k_bias, self.v_bias.var()], 0); // [3D]
        let qkv = x.linear(&self.qkv.weight.var(), Some(&bias)); // [B, N, 3D]
        let qkv = qkv.reshape([b, n, 3, self.heads, d / self.heads]).permute(&[2, 0, 3, 1, 4]); // [3, B, H, N, Dh]
        let parts: Vec<Var> = qkv.chunk(3, 0).iter().map(|p| p.squeeze(0)).collect(); // 3 × [B, H, N, Dh]
        let (q, k, v) = (&parts[0], &parts[1], &parts[2]);
        let scale = 1.0 / ((d / self.heads) as f64).sqrt();
        let out = Var::scaled_dot_product_attention(q, k, v, scale); // [B, H, N, Dh]
        self.proj.forward(&merge_heads(&out)) // [B, N, D]
    }
}

/// Cross-attention with separate q, k, v projections (the regressor's): queries from one
/// sequence, keys and values from another.
pub struct CrossAttention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub q_bias: Param,
    pub v_bias: Param,
    pub proj: Linear,
    pub heads: usize,
}

impl CrossAttention {
    pub fn new(store: &mut ParamStore, name: &str, dim: usize, heads: usize, seed: u64) -> CrossAttention {
        assert!(dim.is_multiple_of(heads), "width {dim} does not split into {heads} heads");
        CrossAttention {
            q: Linear::new(store, &format!("{name}.q"), dim, dim, false, seed),
            k: Linear::new(store, &format!("{name}.k"), dim, dim, false, seed),
            v: Linear::new(store, &format!("{name}.v"), dim, dim, false, seed),
            q_bias: zeros(store, format!("{name}.q_bias"), dim),
            v_bias: zeros(store, format!("{name}.v_bias"), dim),
            proj: Linear::new(store, &format!("{name}.proj"), dim, dim, true, seed),
            heads,
        }
    }

    /// Queries [B, Nq, D] attending over keys and values [B, Nk, D] → [B, Nq, D].
    pub fn forward(&self, queries: &Var, keys: &Var, values: &Var) -> Var {
        let q = queries.linear(&self.q.weight.var(), Some(&self.q_bias.var())); // [B, Nq, D]
        let k = self.k.forward(keys); // [B, Nk, D]
        let v = values.linear(&self.v.weight.var(), Some(&self.v_bias.var())); // [B, Nk, D]
        let scale = 1.0 / ((q.dim(2) / self.heads) as f64).sqrt();
        let (q, k, v) = (split_heads(&q, self.heads), split_heads(&k, self.heads), split_heads(&v, self.heads));
        let out = Var::scaled_dot_product_attention(&q, &k, &v, scale); // [B, H, Nq, Dh]
        self.proj.forward(&merge_heads(&out)) // [B, Nq, D]
    }
}
