//! The tape's behaviour: what it records, what `backward` does with it, and how gradients
//! accumulate; and the fused ops against the same functions composed from primitives.

use autograd::{no_grad, tape_len, Param, ParamStore, Var};
use tensor::{DType, Tensor};

fn randn(dims: &[usize], seed: u64) -> Tensor {
    Tensor::randn(dims.to_vec(), 0.0, 1.0, DType::F64, seed)
}

fn close(a: &Tensor, b: &Tensor, tol: f64) {
    let (a, b) = (a.to_vec_f64(), b.to_vec_f64());
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "element {i}: {x} vs {y}");
    }
}

#[test]
fn no_grad_records_nothing_and_detach_cuts_the_graph() {
    let w = Param::new(randn(&[3], 0));
    let y = no_grad(|| w.var().exp().sum_all());
    assert!(!y.is_tracked());
    assert_eq!(tape_len(), 0);

    // loss = Σ w · detach(w): the gradient sees the detached factor as a constant.
    let v = w.var();
    let loss = v.mul(&v.detach()).sum_all();
    assert_eq!(tape_len(), 2);
    loss.backward();
    assert_eq!(tape_len(), 0, "backward releases the tape");
    close(&w.grad().unwrap(), &w.value(), 0.0);
}

#[test]
fn gradients_accumulate_until_zeroed() {
    let w = Param::new(randn(&[2, 2], 1));
    let x = Var::constant(randn(&[2, 2], 2));
    for _ in 0..3 {
        w.var().mul(&x).sum_all().backward();
    }
    close(&w.grad().unwrap(), &x.value().mul_scalar(3.0), 1e-15);
    w.zero_grad();
    assert!(w.grad().is_none());
    // A value used twice receives both contributions in one pass.
    let v = w.var();
    v.add(&v).sum_all().backward();
    close(&w.grad().unwrap(), &Tensor::full([2, 2], 2.0, DType::F64), 0.0);
}

#[test]
fn entries_off_the_loss_path_are_dropped() {
    let w = Param::new(randn(&[4], 3));
    let unused = w.var().tanh(); // recorded, but the loss does not use it
    let loss = w.var().square().sum_all();
    assert_eq!(tape_len(), 3);
    loss.backward();
    assert_eq!(tape_len(), 0);
    close(&w.grad().unwrap(), &w.value().mul_scalar(2.0), 1e-15);
    assert!(unused.is_tracked());
}

#[test]
#[should_panic(expected = "does not depend on any parameter")]
fn backward_of_a_constant_says_why_it_cannot() {
    Var::constant(Tensor::scalar(1.0)).backward();
}

#[test]
#[should_panic(expected = "is not on this thread's tape")]
fn a_second_backward_from_the_same_loss_is_an_error() {
    // The first pass consumed the tape: a second would add nothing, silently.
    let loss = Param::new(randn(&[2], 4)).var().square().sum_all();
    loss.backward();
    loss.backward();
}

#[test]
fn a_value_from_a_consumed_tape_cannot_feed_a_new_graph() {
    let w = Param::new(randn(&[2], 5));
    let h = w.var().mul_scalar(3.0);
    h.sum_all().backward();
    // h's own entry is gone, so a gradient through it could not reach w: the op says so.
    let reuse = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.square().sum_all()));
    let message = *reuse.expect_err("a stale input must panic").downcast::<String>().unwrap();
    assert!(message.contains("is not on this thread's tape") && message.contains("Param::var()"), "{message}");
    // Nor can a parameter read for an earlier pass; reading it again works.
    let stale = w.var();
    stale.sum_all().backward();
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stale.square())).is_err());
    w.zero_grad();
    w.var().square().sum_all().backward();
    close(&w.grad().unwrap(), &w.value().mul_scalar(2.0), 1e-15);
}

#[test]
fn a_rejected_backward_leaves_the_tape_as_it_was() {
    let w = Param::new(randn(&[3], 6));
    let y = w.var().square();
    let loss = y.sum_all();
    assert_eq!(tape_len(), 2);
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.backward())).is_err(), "y is not a scalar");
    assert_eq!(tape_len(), 2);
    loss.backward();
    close(&w.grad().unwrap(), &w.value().mul_scalar(2.0), 1e-15);
}

#[test]
fn param_store_keeps_names_in_order() {
    let mut store = ParamStore::new();
    store.insert("encoder.blocks.0.attn.qkv.weight", randn(&[6, 2], 0));
    store.insert("encoder.blocks.0.attn.q_bias", randn(&[2], 1));
    let names: Vec<&str> = store.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["encoder.blocks.0.attn.qkv.weight", "encoder.blocks.0.attn.q_bias"]);
    assert_eq!(store.num_elements(), 14);
    store.get("encoder.blocks.0.attn.q_bias").unwrap().var().sum_all().backward();
    assert!(store.get("encoder.blocks.0.attn.q_bias").unwrap().grad().is_some());
    store.zero_grad();
    assert!(store.iter().all(|(_, p)| p.grad().is_none()));
}

/// Runs `f` on fresh parameters built from `inputs`, returning the output and every gradient.
fn value_and_grads(inputs: &[Tensor], f: impl Fn(&[Var]) -> Var) -> (Tensor, Vec<Tensor>) {
    let params: Vec<Param> = inputs.iter().map(|t| Param::new(t.clone())).collect();
    let vars: Vec<Var> = params.iter().map(Param::var).collect();
    let out = f(&vars);
    let weights = randn(out.dims(), 77);
    out.mul(&Var::constant(weights)).sum_all().backward();
    (out.value().clone(), params.iter().map(|p| p.grad().unwrap()).collect())
}

fn same_as_composite(inputs: &[Tensor], fused: impl Fn(&[Var]) -> Var, composite: impl Fn(&[Var]) -> Var) {
    let (yf, gf) = value_and_grads(inputs, fused);
    let (yc, gc) = value_and_grads(inputs, composite);
    close(&yf, &yc, 1e-12);
    for (a, b) in gf.iter().zip(&gc) {
        close(a, b, 1e-10);
    }
}

#[test]
fn fused_ops_match_their_composites() {
    let x = randn(&[3, 5], 4).mul_scalar(3.0);
    same_as_composite(
        std::slice::from_ref(&x),
        |v| v[0].softmax(-1),
        |v| {
            let e = v[0].sub(&v[0].max(&[-1], true).detach()).exp();
            e.div(&e.sum(&[-1], true))
        },
    );
    same_as_composite(
        std::slice::from_ref(&x),
        |v| v[0].log_softmax(0),
        |v| {
            let shifted = v[0].sub(&v[0].max(&[0], true).detach());
            shifted.sub(&shifted.exp().sum(&[0], true).log())
        },
    );
    let (w, b) = (randn(&[5], 5), randn(&[5], 6));
    same_as_composite(
        &[x.clone(), w, b],
        |v| v[0].layer_norm(Some(&v[1]), Some(&v[2]), 1e-6),
        |v| {
            let centred = v[0].sub(&v[0].mean(&[-1], true));
            let var = centred.square().mean(&[-1], true);
            centred.mul(&var.add_scalar(1e-6).rsqrt()).mul(&v[1]).add(&v[2])
        },
    );
    let targets = Tensor::from_vec(vec![4i64, 0, 2], [3]);
    same_as_composite(
        &[x],
        |v| v[0].cross_entropy(&targets),
        |v| v[0].log_softmax(-1).gather(1, &targets.reshape([3, 1])).mean_all().neg(),
    );
}

#[test]
#[should_panic(expected = "row mask [1, 2] must be [B, N] of input [1, 4, 1]")]
fn a_row_mask_must_cover_the_rows_in_the_graph_too() {
    let x = Param::new(randn(&[1, 4, 1], 7)).var();
    x.masked_select_rows(&Tensor::from_vec(vec![0u8, 1], [1, 2]));
}
