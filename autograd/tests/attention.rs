//! The CPU's fused attention (f32) against the composite of differentiable ops (taken for f64):
//! loss and the gradients of q, k and v, for self- and cross-attention, values of another width and
//! strided inputs; and which operands the fused kernel leaves to the composite.

use autograd::{ParamStore, Var};
use tensor::{DType, Tensor};

/// Loss `Σ attention(q, k, v) ∘ w` and its store of gradients, everything in `dtype`.
fn run(shapes: [&[usize]; 3], dtype: DType, permute_q: bool) -> (f64, ParamStore) {
    let randn = |dims: &[usize], seed| Tensor::randn(dims.to_vec(), 0.0, 1.0, DType::F64, seed).to_dtype(dtype);
    let mut store = ParamStore::new();
    // q as a transposed view, [B, N, H, d] → [B, H, N, d], as attention gets it from the qkv projection.
    let q_dims =
        if permute_q { [shapes[0][0], shapes[0][2], shapes[0][1], shapes[0][3]].to_vec() } else { shapes[0].to_vec() };
    store.insert("q", randn(&q_dims, 81));
    store.insert("k", randn(shapes[1], 82));
    store.insert("v", randn(shapes[2], 83));
    let p = |name: &str| store.get(name).unwrap().var();
    let q = if permute_q { p("q").transpose(1, 2) } else { p("q") };
    let scale = (shapes[0][shapes[0].len() - 1] as f64).powf(-0.5);
    let out = Var::scaled_dot_product_attention(&q, &p("k"), &p("v"), scale);
    let w = Var::constant(randn(out.shape().dims(), 84));
    let loss = out.mul(&w).sum_all();
    loss.backward();
    (loss.value().item(), store)
}

#[test]
fn fused_cpu_attention_matches_the_composite() {
    let cases: [[&[usize]; 3]; 4] = [
        [&[2, 3, 7, 16], &[2, 3, 7, 16], &[2, 3, 7, 16]],
        [&[2, 5, 8], &[2, 9, 8], &[2, 9, 8]], // cross-attention: 5 queries, 9 keys
        [&[3, 2, 1, 4], &[3, 2, 6, 4], &[3, 2, 6, 4]],
        [&[2, 3, 4], &[2, 5, 4], &[2, 5, 3]], // values 3 wide, queries and keys 4
    ];
    for (i, shapes) in cases.into_iter().enumerate() {
        let [q, k, v] = shapes.map(|s| Tensor::zeros(s.to_vec(), DType::F32));
        assert!(Tensor::attention_is_fused(&q, &k, &v), "f32 on the CPU takes the fused kernel");
        let [q, k, v] = [q, k, v].map(|t| t.to_dtype(DType::F64));
        assert!(!Tensor::attention_is_fused(&q, &k, &v), "f64 takes the composite");
        let (fused_loss, fused) = run(shapes, DType::F32, i == 0);
        let (composite_loss, composite) = run(shapes, DType::F64, i == 0);
        assert!((fused_loss - composite_loss).abs() <= 1e-5 * composite_loss.abs().max(1.0), "{shapes:?}: loss");
        for name in ["q", "k", "v"] {
            let g = |s: &ParamStore| s.get(name).unwrap().grad().expect("a gradient").to_vec_f64();
            for (a, b) in g(&fused).iter().zip(g(&composite)) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{shapes:?} d{name}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn keys_and_values_with_broadcast_batch_dims_take_the_composite() {
    // The fused kernels take whole batches; one k and v shared by every query batch goes the
    // composite way, in f32 as in f64.
    let shapes: [&[usize]; 3] = [&[2, 3, 4], &[5, 4], &[5, 4]];
    let [q, k, v] = shapes.map(|s| Tensor::zeros(s.to_vec(), DType::F32));
    assert!(!Tensor::attention_is_fused(&q, &k, &v));
    let (f32_loss, f32_grads) = run(shapes, DType::F32, false);
    let (f64_loss, f64_grads) = run(shapes, DType::F64, false);
    assert!((f32_loss - f64_loss).abs() <= 1e-5 * f64_loss.abs().max(1.0));
    let g = |s: &ParamStore| s.get("k").unwrap().grad().expect("a gradient").to_vec_f64();
    assert_eq!(g(&f32_grads).len(), 20);
    for (a, b) in g(&f32_grads).iter().zip(g(&f64_grads)) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "dk: {a} vs {b}");
    }
}
