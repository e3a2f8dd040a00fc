//! The CAE encoder block (CAE_SPEC.md) composed from autograd ops:
//! `x = x + γ1 ⊙ Attn(LN1(x))`, `x = x + γ2 ⊙ MLP(LN2(x))`, BEiT-style attention (bias-free `qkv`
//! plus `q_bias`, `v_bias`; zero k bias), exact GELU, LayerNorm eps 1e-6.
//!
//! Shared by the PyTorch parity test (autograd/tests/block_parity.rs) and the block benchmark
//! (benches/block.rs, through `#[path]`), so that the block timed is the block checked.

use autograd::{ParamStore, Var};
use tensor::Tensor;

pub const LN_EPS: f64 = 1e-6;

/// Hidden width of the MLP over the model width.
pub const MLP_RATIO: usize = 4;

/// The block's parameters (official state-dict names after `blocks.{i}.`) and their shapes at width `d`.
pub fn param_shapes(d: usize) -> Vec<(&'static str, Vec<usize>)> {
    let h = MLP_RATIO * d;
    vec![
        ("norm1.weight", vec![d]),
        ("norm1.bias", vec![d]),
        ("attn.qkv.weight", vec![3 * d, d]),
        ("attn.q_bias", vec![d]),
        ("attn.v_bias", vec![d]),
        ("attn.proj.weight", vec![d, d]),
        ("attn.proj.bias", vec![d]),
        ("norm2.weight", vec![d]),
        ("norm2.bias", vec![d]),
        ("mlp.fc1.weight", vec![h, d]),
        ("mlp.fc1.bias", vec![h]),
        ("mlp.fc2.weight", vec![d, h]),
        ("mlp.fc2.bias", vec![d]),
        ("gamma_1", vec![d]),
        ("gamma_2", vec![d]),
    ]
}

/// One encoder block over `x` [B, N, D], its parameters read from `store` under `prefix` (`blocks.0.`).
pub fn encoder_block(x: &Var, store: &ParamStore, prefix: &str, heads: usize) -> Var {
    let p = |name: &str| {
        let full = format!("{prefix}{name}");
        store.get(&full).unwrap_or_else(|| panic!("parameter {full:?} is not in the store")).var()
    };
    let h = x.layer_norm(Some(&p("norm1.weight")), Some(&p("norm1.bias")), LN_EPS); // [B, N, D]
    let x = x.add(&p("gamma_1").mul(&attention(&h, &p, heads))); // [B, N, D]
    let h = x.layer_norm(Some(&p("norm2.weight")), Some(&p("norm2.bias")), LN_EPS); // [B, N, D]
    let hidden = h.linear(&p("mlp.fc1.weight"), Some(&p("mlp.fc1.bias"))).gelu(); // [B, N, 4D]
    let mlp = hidden.linear(&p("mlp.fc2.weight"), Some(&p("mlp.fc2.bias"))); // [B, N, D]
    x.add(&p("gamma_2").mul(&mlp)) // [B, N, D]
}

fn attention(h: &Var, p: &impl Fn(&str) -> Var, heads: usize) -> Var {
    let (b, n, d) = (h.dim(0), h.dim(1), h.dim(2));
    let dh = d / heads;
    assert_eq!(dh * heads, d, "width {d} does not split into {heads} heads");
    // The k bias is a constant zero, so no gradient is computed for it.
    let zero_k = Var::constant(Tensor::zeros_on([d], h.dtype(), h.value().device()));
    let bias = Var::concat(&[p("attn.q_bias"), zero_k, p("attn.v_bias")], 0); // [3D]
    let qkv = h.linear(&p("attn.qkv.weight"), Some(&bias)); // [B, N, 3D]
    let qkv = qkv.reshape([b, n, 3, heads, dh]).permute(&[2, 0, 3, 1, 4]); // [3, B, H, N, Dh]
                                                                           // One split entry on the tape: its backward joins the three gradients with a single concat.
    let parts: Vec<Var> = qkv.chunk(3, 0).iter().map(|t| t.squeeze(0)).collect(); // 3 × [B, H, N, Dh]
    let (q, k, v) = (parts[0].clone(), parts[1].clone(), parts[2].clone());
    let ctx = Var::scaled_dot_product_attention(&q, &k, &v, (dh as f64).powf(-0.5)); // [B, H, N, Dh]
    let merged = ctx.permute(&[0, 2, 1, 3]).reshape([b, n, d]); // [B, N, D]
    merged.linear(&p("attn.proj.weight"), Some(&p("attn.proj.bias"))) // [B, N, D]
}
