//! The fused GPU ops against the CPU (on the PTX interpreter unless `CAE_GPU=cuda`): multi-tensor
//! AdamW, cross-entropy with its gradient, flash attention forward and backward (and the composite it
//! falls back to), and the caching allocator under all of them.

mod common;

use std::sync::{Mutex, MutexGuard};

use common::{randn, select_gpu};
use tensor::gpu::{empty_cache, pool_stats};
use tensor::{AdamWParam, AdamWStep, DType, Device, Tensor};

/// GPU 0, and a lock held for the test: the pool test counts what the whole device allocates.
fn gpu() -> (Device, MutexGuard<'static, ()>) {
    static SERIAL: Mutex<()> = Mutex::new(());
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    (select_gpu(), serial)
}

/// `got` (on the GPU) matches `want` (on the CPU) in shape and within `atol + rtol |want|` elementwise.
#[track_caller]
fn assert_close(what: &str, got: &Tensor, want: &Tensor, atol: f64, rtol: f64) {
    assert_eq!(got.device(), Device::Gpu(0), "{what}: result left the GPU");
    assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    let (g, w) = (got.to_vec_f64(), want.to_vec_f64());
    for (i, (&g, &w)) in g.iter().zip(&w).enumerate() {
        assert!((g - w).abs() <= atol + rtol * w.abs(), "{what}: element {i} is {g} on the GPU and {w} on the CPU");
    }
}

/// The panic message of `f`.
fn panic_message(f: impl FnOnce()) -> String {
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

#[test]
fn adamw_over_many_parameters_gives_the_cpus_bits() {
    let (dev, _serial) = gpu();
    // Lengths around the kernel's 256-thread block, an empty parameter, and a gradient that is a
    // transposed view (copied to a dense buffer first).
    let shapes: [&[usize]; 5] = [&[1], &[7, 37], &[0], &[300], &[9, 5]];
    let host: Vec<[Tensor; 4]> = shapes
        .iter()
        .enumerate()
        .map(|(i, dims)| {
            let s = 10 * i as u64;
            let m = randn(dims, s + 2).mul_scalar(0.1);
            let v = randn(dims, s + 3).square().mul_scalar(0.01);
            let g = if i == 4 { randn(&[5, 9], s + 1).t() } else { randn(dims, s + 1) };
            [randn(dims, s), g, m, v]
        })
        .collect();
    let step = |i: usize| AdamWStep {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: if i.is_multiple_of(2) { 0.05 } else { 0.0 },
        t: 7,
        grad_scale: 0.37,
    };
    let params = |ts: &[[Tensor; 4]]| -> Vec<(Tensor, Tensor, Tensor)> {
        let p: Vec<AdamWParam> =
            ts.iter().enumerate().map(|(i, [w, grad, m, v])| AdamWParam { w, grad, m, v, step: step(i) }).collect();
        Tensor::adamw_update_many(&p)
    };
    let cpu = params(&host);
    let on: Vec<[Tensor; 4]> = host.iter().map(|t| t.clone().map(|x| x.to_device(dev))).collect();
    let got = params(&on);
    for (i, ((gw, gm, gv), (cw, cm, cv))) in got.iter().zip(&cpu).enumerate() {
        // The kernel does the CPU's operations in the CPU's order, correctly rounded: the same bits.
        assert_close(&format!("weights {i}"), gw, cw, 0.0, 0.0);
        assert_close(&format!("first moment {i}"), gm, cm, 0.0, 0.0);
        assert_close(&format!("second moment {i}"), gv, cv, 0.0, 0.0);
    }
    // Tensors are values: the inputs on the device are unchanged.
    for (d, h) in on.iter().zip(&host) {
        for (d, h) in d.iter().zip(h) {
            assert_eq!(d.to_vec_f64(), h.to_vec_f64(), "an input of the update changed");
        }
    }
    // Steps that differ in more than decay are updated one by one, with the same result each.
    let mut odd = step(0);
    odd.t = 8;
    let [w, grad, m, v] = &on[1];
    let mixed = Tensor::adamw_update_many(&[
        AdamWParam { w, grad, m, v, step: step(1) },
        AdamWParam { w, grad, m, v, step: odd },
    ]);
    let alone = w.adamw_update(grad, m, v, &odd);
    assert_eq!(mixed[0].0.to_vec_f64(), got[1].0.to_vec_f64());
    assert_eq!(mixed[1].0.to_vec_f64(), alone.0.to_vec_f64());
}

#[test]
fn cross_entropy_gives_row_losses_and_the_gradient_in_one_pass() {
    let (dev, _serial) = gpu();
    // Rows: 1, 5 and 9 (not a multiple of the warps per block); classes 1, 7 and 70 (past one warp).
    for (n, c) in [(1, 1), (5, 7), (9, 70)] {
        let logits = randn(&[n, c], n as u64 * 100 + c as u64).mul_scalar(3.0);
        let targets = Tensor::from_vec((0..n).map(|r| ((r * 5 + 3) % c) as i64).collect(), [n]);
        let (cpu_loss, cpu_grad) = logits.cross_entropy_with_grad(&targets);
        for t in [targets.clone(), targets.to_device(dev)] {
            let (loss, grad) = logits.to_device(dev).cross_entropy_with_grad(&t);
            // One f32 logsumexp per row (ex2/lg2 approximations on the GPU): a few ulps of |loss| ~ 10.
            assert_close(&format!("loss {n}x{c}"), &loss, &cpu_loss, 1e-5, 1e-5);
            assert_close(&format!("dlogits {n}x{c}"), &grad, &cpu_grad, 1e-6, 1e-5);
        }
    }
    // A strided view of logits is read through a dense copy.
    let wide = randn(&[6, 4], 5);
    let targets = Tensor::from_vec(vec![0i64, 5, 2, 3], [4]);
    let (cpu_loss, cpu_grad) = wide.t().cross_entropy_with_grad(&targets);
    let (loss, grad) = wide.to_device(dev).t().cross_entropy_with_grad(&targets);
    assert_close("loss of a transposed view", &loss, &cpu_loss, 1e-5, 1e-5);
    assert_close("dlogits of a transposed view", &grad, &cpu_grad, 1e-6, 1e-5);
    let bad = Tensor::from_vec(vec![0i64, 3], [2]);
    let msg = panic_message(|| {
        randn(&[2, 3], 1).to_device(dev).cross_entropy_with_grad(&bad);
    });
    assert!(msg.contains("target 3 is out of range for 3 classes"), "{msg}");
}

/// q, k, v of `[2, 3, n, d]` (batch, heads, tokens, head dim), q as a permuted view.
fn qkv(n: usize, d: usize, seed: u64) -> [Tensor; 3] {
    let q = randn(&[2, n, 3, d], seed).permute(&[0, 2, 1, 3]);
    [q, randn(&[2, 3, n, d], seed + 1), randn(&[2, 3, n, d], seed + 2)]
}

#[test]
fn flash_attention_matches_the_cpu_composite_forward_and_backward() {
    let (dev, _serial) = gpu();
    // 5 and 9 query rows: not multiples of the kernel's 4 rows per block; 9 > 8 tiles of keys too.
    for (n, d) in [(5, 32), (9, 64)] {
        let scale = (d as f64).powf(-0.5);
        let host = qkv(n, d, n as u64);
        let dout = randn(&[2, 3, n, d], 7);
        let on = host.clone().map(|t| t.to_device(dev));
        assert!(Tensor::attention_is_fused(&on[0], &on[1], &on[2]), "d = {d} runs the flash kernels");
        // The reference: the composite, which the CPU runs for f64 (for f32 it has its own fused kernel).
        let host = host.map(|t| t.to_dtype(DType::F64));
        assert!(!Tensor::attention_is_fused(&host[0], &host[1], &host[2]), "the CPU composes in f64");
        let [q, k, v] = &host;
        let (out, lse) = Tensor::attention_forward(q, k, v, scale);
        let dout64 = dout.to_dtype(DType::F64);
        let (dq, dk, dv) = Tensor::attention_backward(q, k, v, &out, &lse, &dout64, scale);
        let [gq, gk, gv] = &on;
        let (gout, glse) = Tensor::attention_forward(gq, gk, gv, scale);
        let gdout = dout.to_device(dev);
        let (gdq, gdk, gdv) = Tensor::attention_backward(gq, gk, gv, &gout, &glse, &gdout, scale);
        // f32 sums over d and N terms of unit size, in another order, with ex2.approx: ~1e-6 each.
        let what = |x: &str| format!("{x} at N = {n}, d = {d}");
        assert_close(&what("out"), &gout, &out, 2e-5, 1e-4);
        assert_close(&what("lse"), &glse, &lse, 2e-5, 1e-5);
        assert_close(&what("dq"), &gdq, &dq, 5e-5, 1e-4);
        assert_close(&what("dk"), &gdk, &dk, 5e-5, 1e-4);
        assert_close(&what("dv"), &gdv, &dv, 5e-5, 1e-4);
        // The composite's probabilities sum to one: out is an average of the values.
        let softmax = q.mul_scalar(scale).matmul(&k.transpose(-2, -1)).softmax(-1).matmul(v);
        assert!(out.sub(&softmax).abs().max(&[], false).item() < 1e-5, "the composite is attention");
    }
}

#[test]
fn attention_the_kernels_do_not_cover_runs_composed_on_the_gpu() {
    let (dev, _serial) = gpu();
    // Head dim 48 is not generated; 4 queries against 6 keys is cross-attention.
    for (nq, nk, d) in [(5, 5, 48), (4, 6, 32)] {
        let scale = 0.2;
        let (q, k, v) = (randn(&[2, nq, d], 1), randn(&[2, nk, d], 2), randn(&[2, nk, d], 3));
        let dout = randn(&[2, nq, d], 4);
        let on = |t: &Tensor| t.to_device(dev);
        assert!(!Tensor::attention_is_fused(&on(&q), &on(&k), &on(&v)));
        // The reference: the CPU's composite, which it runs for f64.
        let f64s = |t: &Tensor| t.to_dtype(DType::F64);
        let (out, lse) = Tensor::attention_forward(&f64s(&q), &f64s(&k), &f64s(&v), scale);
        let (gout, glse) = Tensor::attention_forward(&on(&q), &on(&k), &on(&v), scale);
        assert_close("composite out", &gout, &out, 2e-5, 1e-4);
        assert_close("composite lse", &glse, &lse, 2e-5, 1e-5);
        let (dq, dk, dv) = Tensor::attention_backward(&f64s(&q), &f64s(&k), &f64s(&v), &out, &lse, &f64s(&dout), scale);
        let (gdq, gdk, gdv) = Tensor::attention_backward(&on(&q), &on(&k), &on(&v), &gout, &glse, &on(&dout), scale);
        assert_close("composite dq", &gdq, &dq, 5e-5, 1e-4);
        assert_close("composite dk", &gdk, &dk, 5e-5, 1e-4);
        assert_close("composite dv", &gdv, &dv, 5e-5, 1e-4);
    }
}

#[test]
fn dropped_buffers_are_reused_and_given_back_on_request() {
    let (dev, _serial) = gpu();
    let x = randn(&[3001], 11);
    let before = pool_stats(0);
    let first = x.to_device(dev).exp();
    let want = x.exp();
    drop(first);
    for _ in 0..3 {
        let again = x.to_device(dev).exp();
        assert_close("exp into a recycled buffer", &again, &want, 1e-6, 1e-6);
    }
    let after = pool_stats(0);
    // Two buffers per round (the upload and the result); after the first round all come from the cache.
    assert!(after.reuses >= before.reuses + 4, "{before:?} -> {after:?}");
    assert!(after.cached_bytes > 0, "{after:?}");
    empty_cache();
    assert_eq!(pool_stats(0).cached_bytes, 0);
    // Fresh blocks after emptying still compute right.
    assert_close("exp after empty_cache", &x.to_device(dev).exp(), &want, 1e-6, 1e-6);
}
