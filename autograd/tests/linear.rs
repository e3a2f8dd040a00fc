//! `Var::linear` with a bias: the fused f32 op on the CPU against the composite (taken for f64).

use autograd::{ParamStore, Var};
use tensor::{DType, Tensor};

fn run(x_dims: &[usize], out: usize, dtype: DType) -> (f64, ParamStore) {
    let randn = |dims: &[usize], seed| Tensor::randn(dims.to_vec(), 0.0, 1.0, DType::F64, seed).to_dtype(dtype);
    let mut store = ParamStore::new();
    store.insert("x", randn(x_dims, 1));
    store.insert("w", randn(&[out, x_dims[x_dims.len() - 1]], 2));
    store.insert("b", randn(&[out], 3));
    let p = |name: &str| store.get(name).unwrap().var();
    let y = p("x").linear(&p("w"), Some(&p("b")));
    // The output reaches the loss twice, once through a weight: the rule must use g.
    let loss = y.mul(&Var::constant(randn(y.shape().dims(), 4))).sum_all().add(&y.sum_all());
    loss.backward();
    (loss.value().item(), store)
}

#[test]
fn fused_linear_matches_the_composite() {
    for (x_dims, out) in [(vec![5, 7], 3), (vec![2, 9, 16], 24)] {
        let (fused_loss, fused) = run(&x_dims, out, DType::F32);
        let (loss, composite) = run(&x_dims, out, DType::F64);
        assert!((fused_loss - loss).abs() <= 1e-4 * (1.0 + loss.abs()), "{x_dims:?}: loss {fused_loss} vs {loss}");
        for name in ["x", "w", "b"] {
            let g = |s: &ParamStore| s.get(name).unwrap().grad().expect("a gradient").to_vec_f64();
            for (a, b) in g(&fused).iter().zip(g(&composite)) {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{x_dims:?} d{name}: {a} vs {b}");
            }
        }
    }
}
