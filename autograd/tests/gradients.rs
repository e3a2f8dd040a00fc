//! Finite-difference gradient checks (f64) of every differentiable op, over random shapes,
//! broadcast patterns and strided (transposed, narrowed) inputs.

use autograd::gradcheck::{check_gradients, DEFAULT_EPS};
use autograd::{drop_path, dropout, Var};
use proptest::prelude::*;
use tensor::{DType, Tensor};

const TOL: f64 = 1e-6;

fn randn(dims: &[usize], seed: u64) -> Tensor {
    Tensor::randn(dims.to_vec(), 0.0, 1.0, DType::F64, seed)
}

fn check(inputs: Vec<Tensor>, f: impl Fn(&[Var]) -> Var) {
    if let Err(e) = check_gradients(&inputs, f, DEFAULT_EPS, TOL) {
        panic!("{e}");
    }
}

fn dims(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..4, 1..=max_rank)
}

/// `b`'s shape: `a`'s trailing dims, some set to 1, so that it broadcasts against `a`.
fn broadcast_of(a: &[usize], drop: usize, ones: u8) -> Vec<usize> {
    let drop = drop.min(a.len() - 1);
    a[drop..].iter().enumerate().map(|(k, &d)| if ones & (1 << k) != 0 { 1 } else { d }).collect()
}

proptest! {
    // No regression files: integration tests have no lib.rs for proptest to put them beside.
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn broadcasting_arithmetic(a in dims(3), drop in 0usize..3, ones: u8, swap: bool, seed in 0u64..1000) {
        let b = broadcast_of(&a, drop, ones);
        let (a, b) = if swap { (b, a) } else { (a, b) };
        let (x, y) = (randn(&a, seed), randn(&b, seed + 1).abs().add_scalar(0.5));
        check(vec![x.clone(), y.clone()], |v| v[0].add(&v[1]).mul(&v[0]).sub(&v[1]).div(&v[1]));
        check(vec![x, y], |v| v[0].maximum(&v[1]).add(&v[0].minimum(&v[1].mul_scalar(0.5))));
    }

    #[test]
    fn unary_maps_on_strided_views(a in dims(3), seed in 0u64..1000) {
        let mut storage = a.clone();
        storage[0] += 2;
        let x = randn(&storage, seed);
        let view = |v: &Var| v.narrow(0, 1, a[0]).transpose(0, -1);
        check(vec![x.clone()], |v| {
            let t = view(&v[0]);
            t.exp().add(&t.tanh()).add(&t.gelu()).add(&t.sigmoid()).add(&t.square()).sub(&t.neg().relu())
        });
        // Positive inputs for the maps defined there.
        let pos = x.abs().add_scalar(0.5);
        check(vec![pos], |v| {
            let t = view(&v[0]);
            t.log().add(&t.sqrt()).add(&t.rsqrt()).add(&t.recip()).add(&t.powf(1.7)).add(&t.abs())
        });
    }

    #[test]
    fn reductions(a in dims(3), mask in 1u8..8, keepdim: bool, seed in 0u64..1000) {
        let x = randn(&a, seed);
        let axes: Vec<isize> = (0..a.len() as isize).filter(|k| mask & (1 << k) != 0).collect();
        let axes = if axes.is_empty() { vec![a.len() as isize - 1] } else { axes };
        check(vec![x.clone()], |v| v[0].sum(&axes, keepdim).add(&v[0].mean(&axes, keepdim).mul_scalar(3.0)));
        check(vec![x.clone()], |v| v[0].max(&axes, keepdim).sub(&v[0].min(&axes, keepdim)));
        let n: usize = axes.iter().map(|&k| a[k as usize]).product();
        if n > 1 {
            check(vec![x], |v| v[0].var(&axes, 1, keepdim));
        }
    }

    #[test]
    fn batched_matmul(b in 1usize..3, m in 1usize..5, k in 1usize..5, n in 1usize..5, shared: bool, transposed: bool, seed in 0u64..1000) {
        let x = randn(&[b, m, k], seed);
        let w = if transposed { randn(&[n, k], seed + 1) } else { randn(&[k, n], seed + 1) };
        let w = if shared { w } else { Tensor::stack(&[w.clone(), w.mul_scalar(-0.5)], 0) };
        let x = if shared { x } else { x.narrow(0, 0, 1).broadcast_to([2, m, k]).contiguous() };
        check(vec![x, w], |v| {
            let w = if transposed { v[1].transpose(-1, -2) } else { v[1].clone() };
            v[0].matmul(&w)
        });
    }

    #[test]
    fn shape_ops(a in dims(3), seed in 0u64..1000) {
        let x = randn(&a, seed);
        let y = randn(&a, seed + 1);
        let r = a.len();
        check(vec![x.clone(), y.clone()], |v| {
            let perm: Vec<usize> = (0..r).rev().collect();
            let joined = Var::concat(&[v[0].clone(), v[1].clone()], 0); // [2·a0, ...]
            let parts = joined.split(&[1, 2 * a[0] - 1], 0);
            let stacked = Var::stack(&[v[0].permute(&perm), v[1].permute(&perm)], -1);
            parts[1].sum_all().add(&stacked.flatten(0, -1).unsqueeze(0).squeeze(0).reshape([2 * x.numel()]).sum_all().mul_scalar(0.3))
                .add(&parts[0].mul(&parts[0]).sum_all())
        });
        check(vec![x], |v| v[0].narrow(-1, 0, 1).broadcast_to({ let mut d = a.clone(); d.insert(0, 2); d }));
    }

    #[test]
    fn softmax_and_layer_norm(rows in 1usize..4, width in 2usize..6, axis in 0isize..2, seed in 0u64..1000) {
        let x = randn(&[rows, width], seed).mul_scalar(2.0);
        check(vec![x.clone()], |v| v[0].softmax(axis));
        check(vec![x.clone()], |v| v[0].log_softmax(axis));
        let (w, b) = (randn(&[width], seed + 1), randn(&[width], seed + 2));
        check(vec![x.clone(), w, b], |v| v[0].layer_norm(Some(&v[1]), Some(&v[2]), 1e-5));
        check(vec![x], |v| v[0].transpose(0, 1).layer_norm(None, None, 1e-5));
    }

    #[test]
    fn losses(n in 1usize..5, c in 2usize..6, seed in 0u64..1000) {
        let logits = randn(&[n, c], seed);
        let targets = Tensor::from_vec((0..n).map(|i| ((i as u64 * 7 + seed) % c as u64) as i64).collect(), [n]);
        check(vec![logits.clone()], |v| v[0].cross_entropy(&targets));
        let t = randn(&[n, c], seed + 1);
        check(vec![logits, t], |v| v[0].mse(&v[1]));
    }

    #[test]
    fn indexing(b in 1usize..3, n in 2usize..6, d in 1usize..4, seed in 0u64..1000) {
        let x = randn(&[b, n, d], seed);
        let idx = Tensor::from_vec(vec![n as i64 - 1, 0, n as i64 - 1], [3]);
        check(vec![x.clone()], |v| v[0].index_select(1, &idx));
        let g = Tensor::from_vec((0..b * 2 * d).map(|i| ((i as u64 * 5 + seed) % n as u64) as i64).collect(), [b, 2, d]);
        check(vec![x.clone()], |v| v[0].gather(1, &g));
        let src = randn(&[b, 2, d], seed + 1);
        check(vec![x.clone(), src], |v| v[0].scatter_add(1, &g, &v[1]));
        let mask = Tensor::from_vec((0..b * n).map(|i| ((i % n) % 2 == 0) as u8).collect(), [b, n]);
        let rows = randn(&[b, n.div_ceil(2), d], seed + 2);
        check(vec![x, rows], |v| v[0].masked_select_rows(&mask).mul_scalar(2.0).add(&v[1]).sum_all().add(&v[0].masked_put_rows(&mask, &v[1]).square().sum_all()));
    }
}

#[test]
fn split_with_unused_pieces() {
    let x = randn(&[3, 7], 5);
    check(vec![x], |v| {
        let parts = v[0].split(&[2, 4, 1], 1);
        parts[0].sum(&[1], true).mul(&parts[2]).add(&parts[0].narrow(1, 1, 1)) // parts[1] unused
    });
    let y = randn(&[6, 2], 6);
    check(vec![y], |v| {
        let c = v[0].chunk(3, 0);
        c[2].sub(&c[0]).square()
    });
}

#[test]
fn patchify_and_attention() {
    let img = randn(&[2, 3, 4, 6], 1);
    check(vec![img], |v| v[0].patchify(2));
    let (q, k, val) = (randn(&[2, 3, 4], 2), randn(&[2, 5, 4], 3), randn(&[2, 5, 3], 4));
    check(vec![q, k, val], |v| Var::scaled_dot_product_attention(&v[0], &v[1], &v[2], 0.5));
}

#[test]
fn dropout_and_drop_path_scale_what_they_keep() {
    let x = randn(&[4, 3, 5], 9);
    check(vec![x.clone()], |v| dropout(&v[0], 0.3, 7));
    check(vec![x.clone()], |v| drop_path(&v[0], 0.5, 7));
    let xs = Var::constant(Tensor::ones([64, 2, 2], DType::F64));
    let kept = drop_path(&xs, 0.5, 3).value().to_vec::<f64>();
    // Each sample is all-kept (×2) or all-dropped.
    for s in kept.chunks(4) {
        assert!(s.iter().all(|&v| v == s[0]) && (s[0] == 0.0 || s[0] == 2.0), "{s:?}");
    }
    let again = drop_path(&xs, 0.5, 3).value().to_vec::<f64>();
    assert_eq!(kept, again, "the same seed drops the same samples");
    let n_kept = kept.chunks(4).filter(|s| s[0] > 0.0).count();
    assert!((16..=48).contains(&n_kept), "kept {n_kept} of 64");
}

#[test]
fn the_check_rejects_nan_gradients() {
    // √(−|x| − 1) is NaN everywhere, forward and backward: nothing about it may pass.
    let x = randn(&[3], 5);
    let result = check_gradients(&[x], |v| v[0].abs().add_scalar(1.0).neg().sqrt(), DEFAULT_EPS, TOL);
    assert!(result.is_err(), "a NaN gradient passed the finite-difference check");
}
