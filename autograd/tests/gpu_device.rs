//! Autograd unchanged on the GPU device: the same graphs built from parameters on `Device::Gpu(0)` (the
//! PTX interpreter, or CUDA with `CAE_GPU=cuda` and the `cuda` feature) give the CPU's loss and
//! gradients. Every backward rule runs on the device: nothing is moved to the host but the results.

#[path = "common/encoder_block.rs"]
mod encoder_block;

use autograd::{bf16_matmuls, dropout, ParamStore, Var};
use tensor::gpu::{select, GpuBackend};
use tensor::{DType, Device, Tensor};

use encoder_block::{encoder_block, param_shapes};

fn gpu() -> Device {
    let backend =
        if std::env::var("CAE_GPU").as_deref() == Ok("cuda") { GpuBackend::Cuda } else { GpuBackend::Interpreter };
    select(backend).expect("one backend for the whole test binary");
    Device::Gpu(0)
}

fn randn(dims: &[usize], std: f64, seed: u64) -> Tensor {
    Tensor::randn(dims.to_vec(), 0.0, std, DType::F32, seed)
}

/// The same named parameters on `device`.
fn store_on(params: &[(&str, Tensor)], device: Device) -> ParamStore {
    let mut store = ParamStore::new();
    for (name, value) in params {
        store.insert(*name, value.to_device(device));
    }
    store
}

/// Every parameter gradient of `gpu` is on the GPU and within `tol` (relative to the largest CPU
/// gradient magnitude of that parameter) of `cpu`'s.
#[track_caller]
fn assert_same_grads(cpu: &ParamStore, gpu: &ParamStore, tol: f64) {
    for ((name, c), (_, g)) in cpu.iter().zip(gpu.iter()) {
        let (c, g) = (c.grad().unwrap_or_else(|| panic!("{name}: no CPU gradient")), g.grad().expect("GPU gradient"));
        assert_eq!(g.device(), Device::Gpu(0), "{name}: gradient left the GPU");
        assert_eq!(g.shape(), c.shape(), "{name}: gradient shapes differ");
        let (cv, gv) = (c.to_vec_f64(), g.to_vec_f64());
        let scale = cv.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
        let worst = cv.iter().zip(&gv).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= tol * scale, "{name}: gradients differ by {worst:e} (largest {scale:e}, tolerance {tol:e})");
    }
}

#[test]
fn an_mlp_trains_the_same_on_the_gpu() {
    let dev = gpu();
    let (n, d, h, classes) = (7, 12, 20, 5);
    let params = [
        ("norm.weight", randn(&[d], 0.2, 1).add_scalar(1.0)),
        ("norm.bias", randn(&[d], 0.2, 2)),
        ("fc1.weight", randn(&[h, d], 0.3, 3)),
        ("fc1.bias", randn(&[h], 0.1, 4)),
        ("fc2.weight", randn(&[classes, h], 0.3, 5)),
        ("fc2.bias", randn(&[classes], 0.1, 6)),
    ];
    let x = randn(&[n, d], 1.0, 7);
    let targets = Tensor::from_vec(vec![0i64, 3, 1, 4, 4, 2, 0], [n]);
    let regress = randn(&[n, classes], 1.0, 8);
    let run = |device: Device| {
        let store = store_on(&params, device);
        let p = |name: &str| store.get(name).unwrap().var();
        let input = Var::constant(x.to_device(device));
        let hdn = input.layer_norm(Some(&p("norm.weight")), Some(&p("norm.bias")), 1e-5); // [N, D]
        let hdn = hdn.linear(&p("fc1.weight"), Some(&p("fc1.bias"))).gelu(); // [N, H]
        let hdn = dropout(&hdn, 0.25, 9); // the mask is drawn on the host and moved
        let logits = hdn.linear(&p("fc2.weight"), Some(&p("fc2.bias"))); // [N, C]
        let ce = logits.cross_entropy(&targets);
        let mse = logits.tanh().mse(&Var::constant(regress.to_device(device)));
        let loss = ce.add(&mse.mul_scalar(0.5)).add(&logits.relu().mean_all().mul_scalar(0.1));
        loss.backward();
        (loss.value().item(), store)
    };
    let (cpu_loss, cpu) = run(Device::Cpu);
    let (gpu_loss, gpu_store) = run(dev);
    // f32 through a handful of ops, with ex2/lg2.approx on the GPU: a few parts in 1e6.
    assert!((cpu_loss - gpu_loss).abs() <= 1e-5 * cpu_loss.abs(), "loss {gpu_loss} on the GPU, {cpu_loss} on the CPU");
    assert_same_grads(&cpu, &gpu_store, 1e-4);
}

#[test]
fn an_attention_block_forward_and_backward_match_the_cpu() {
    // Heads of 8 (composed attention) and of 32 (the flash kernels).
    for d in [16, 64] {
        attention_block_matches_the_cpu(d);
    }
}

fn attention_block_matches_the_cpu(d: usize) {
    let dev = gpu();
    let (b, n, heads) = (2, 5, 2);
    let params: Vec<(&str, Tensor)> = param_shapes(d)
        .into_iter()
        .enumerate()
        .map(|(i, (name, shape))| {
            let base = randn(&shape, 0.2, 100 + i as u64);
            // LayerNorm weights and the layer scales near 1, as initialised.
            let value = if name.ends_with("norm1.weight") || name.ends_with("norm2.weight") || name.starts_with("gamma")
            {
                base.add_scalar(1.0)
            } else {
                base
            };
            (name, value)
        })
        .collect();
    let x = randn(&[b, n, d], 1.0, 200);
    let r = randn(&[b, n, d], 1.0, 201);
    let keep = Tensor::from_vec(vec![0i64, 2, 3, 1, 2, 4], [b, 3]);
    let run = |device: Device| {
        let store = store_on(&params, device);
        let input = store_on(&[("x", x.clone())], device);
        let xv = input.get("x").unwrap().var();
        // Visible patches only, as the CAE encoder sees them: take_rows and its put_rows backward.
        let visible = xv.take_rows(&keep); // [B, 3, D]
        let out = encoder_block(&visible, &store, "", heads); // [B, 3, D]
        let back = xv.mul_scalar(0.0).put_rows(&keep, &out); // [B, N, D], the rest zeros
        let loss = back.mul(&Var::constant(r.to_device(device))).sum_all();
        loss.backward();
        (loss.value().item(), store, input)
    };
    let (cpu_loss, cpu, cpu_x) = run(Device::Cpu);
    let (gpu_loss, gpu_store, gpu_x) = run(dev);
    // The block parity test's f32 tolerance (rounding amplified through two LayerNorms and a softmax).
    assert!((cpu_loss - gpu_loss).abs() <= 1e-5 * cpu_loss.abs().max(1.0), "loss {gpu_loss} vs {cpu_loss}");
    assert_same_grads(&cpu, &gpu_store, 1e-4);
    assert_same_grads(&cpu_x, &gpu_x, 1e-4);
}

/// A two-layer classifier's loss and its parameters (holding their gradients) after one backward.
fn mlp_step(params: &[(&str, Tensor)], x: &Tensor, targets: &Tensor, device: Device) -> (f64, ParamStore) {
    let store = store_on(params, device);
    let p = |name: &str| store.get(name).unwrap().var();
    let hdn = Var::constant(x.to_device(device)).linear(&p("fc1.weight"), Some(&p("fc1.bias"))).gelu(); // [N, H]
    let logits = hdn.linear(&p("fc2.weight"), Some(&p("fc2.bias"))); // [N, C]
    let loss = logits.cross_entropy(targets);
    loss.backward();
    (loss.value().item(), store)
}

#[test]
fn mixed_precision_runs_products_in_bf16_and_keeps_f32_weights_and_gradients() {
    let dev = gpu();
    // Multiples of 8 everywhere, so that every product (forward, dX, dW) takes the tensor-core kernel.
    let (n, d, h, classes) = (8, 16, 32, 8);
    let params = [
        ("fc1.weight", randn(&[h, d], 0.3, 40)),
        ("fc1.bias", randn(&[h], 0.1, 41)),
        ("fc2.weight", randn(&[classes, h], 0.3, 42)),
        ("fc2.bias", randn(&[classes], 0.1, 43)),
    ];
    let x = randn(&[n, d], 1.0, 44);
    let targets = Tensor::from_vec(vec![0i64, 3, 1, 7, 4, 2, 6, 5], [n]);
    let (cpu_loss, cpu) = mlp_step(&params, &x, &targets, Device::Cpu);
    let (f32_loss, _) = mlp_step(&params, &x, &targets, dev);
    let (mixed_loss, mixed) = bf16_matmuls(|| mlp_step(&params, &x, &targets, dev));
    for (name, p) in mixed.iter() {
        let g = p.grad().unwrap();
        assert_eq!(
            (p.value().dtype(), g.dtype()),
            (DType::F32, DType::F32),
            "{name}: master weights and gradients stay f32"
        );
    }
    // The switch is live: rounding the operands to bf16 (8 significant bits) moves the loss.
    assert!((mixed_loss - f32_loss).abs() > 1e-6 * f32_loss, "bf16 products gave the f32 loss {f32_loss} exactly");
    // bf16 operands carry a relative error of up to 2^-9 ~ 2e-3 each. Measured on the interpreter: the
    // loss moves by 2e-4 relative, the worst gradient by 5e-3 of its largest value; the bounds leave a
    // margin of 4-10x and stay far below what a wrong rule gives (the gelu-rule mutation: 0.5).
    assert!((mixed_loss - cpu_loss).abs() <= 2e-3 * cpu_loss, "mixed-precision loss {mixed_loss}, f32 {cpu_loss}");
    assert_same_grads(&cpu, &mixed, 2e-2);
    // On the CPU the switch changes nothing (it has no bf16 product).
    let (again, _) = bf16_matmuls(|| mlp_step(&params, &x, &targets, Device::Cpu));
    assert_eq!(again, cpu_loss);
}

/// Gradients of `loss(q, k, v)` with respect to q, k, v of the given shapes, on `device`.
fn attention_grads(shapes: [&[usize]; 3], device: Device, scale: f64) -> (f64, ParamStore) {
    let store = store_on(
        &[("q", randn(shapes[0], 1.0, 61)), ("k", randn(shapes[1], 1.0, 62)), ("v", randn(shapes[2], 1.0, 63))],
        device,
    );
    let p = |name: &str| store.get(name).unwrap().var();
    let weights = Var::constant(randn(shapes[0], 1.0, 64).to_device(device));
    let out = Var::scaled_dot_product_attention(&p("q"), &p("k"), &p("v"), scale); // [..., Nq, d]
    let loss = out.mul(&weights).sum_all();
    loss.backward();
    (loss.value().item(), store)
}

#[test]
fn attention_takes_the_flash_kernels_where_they_apply_and_composes_elsewhere() {
    let dev = gpu();
    // Fused: head dims 32 and 64, 5 and 6 tokens (not multiples of the kernel's 4 rows per block).
    // Composed: head dim 48 (not generated) and 3 queries against 5 keys.
    let cases: [[&[usize]; 3]; 4] = [
        [&[2, 3, 5, 32], &[2, 3, 5, 32], &[2, 3, 5, 32]],
        [&[1, 6, 64], &[1, 6, 64], &[1, 6, 64]],
        [&[2, 5, 48], &[2, 5, 48], &[2, 5, 48]],
        [&[2, 3, 32], &[2, 5, 32], &[2, 5, 32]],
    ];
    for (shapes, fused) in cases.into_iter().zip([true, true, false, false]) {
        let [q, k, v] = shapes.map(|s| Tensor::zeros_on(s.to_vec(), DType::F32, dev));
        assert_eq!(Tensor::attention_is_fused(&q, &k, &v), fused, "{shapes:?}");
        let scale = (shapes[0][shapes[0].len() - 1] as f64).powf(-0.5);
        let (cpu_loss, cpu) = attention_grads(shapes, Device::Cpu, scale);
        let (gpu_loss, gpu_store) = attention_grads(shapes, dev, scale);
        // f32 sums of a few dozen unit-sized terms, taken in another order: parts in 1e6.
        assert!(
            (cpu_loss - gpu_loss).abs() <= 1e-5 * cpu_loss.abs().max(1.0),
            "{shapes:?}: loss {gpu_loss} vs {cpu_loss}"
        );
        assert_same_grads(&cpu, &gpu_store, 1e-4);
    }
}

#[test]
fn fused_cross_entropy_scales_its_saved_gradient_by_the_incoming_one() {
    let dev = gpu();
    // 9 rows of 70 classes: rows not a multiple of the warps per block, classes past one warp.
    let (n, c) = (9, 70);
    let logits = randn(&[n, c], 2.0, 71);
    let targets = Tensor::from_vec((0..n as i64).map(|r| (r * 13 + 2) % c as i64).collect(), [n]);
    let run = |device: Device| {
        let store = store_on(&[("logits", logits.clone())], device);
        let x = store.get("logits").unwrap().var();
        // The loss reaches the logits twice and with a weight of -2.5: the rule must use g.
        let loss = x.cross_entropy(&targets).mul_scalar(-2.5).add(&x.mul_scalar(0.5).cross_entropy(&targets));
        loss.backward();
        (loss.value().item(), store)
    };
    let (cpu_loss, cpu) = run(Device::Cpu);
    let (gpu_loss, gpu_store) = run(dev);
    assert!((cpu_loss - gpu_loss).abs() <= 1e-5 * cpu_loss.abs(), "loss {gpu_loss} on the GPU, {cpu_loss} on the CPU");
    assert_same_grads(&cpu, &gpu_store, 1e-5);
}
