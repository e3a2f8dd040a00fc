//! Tensors on `Device::Gpu(0)`, run by the PTX interpreter (or by CUDA with `CAE_GPU=cuda` and the
//! `cuda` feature): every op that has a GPU kernel gives the CPU's answer, on awkward small shapes and
//! on views (transposed, narrowed, broadcast); ops without one panic naming themselves.

mod common;

use common::{randn, select_gpu as gpu};
use tensor::{AdamWStep, BinaryOp, CmpOp, DType, Device, ReduceOp, Tensor, UnaryOp};

/// `got` is on the GPU and matches `want` (on the CPU) in shape and, elementwise, within
/// `atol + rtol |want|` (NaN matches NaN).
#[track_caller]
fn assert_close(what: &str, got: &Tensor, want: &Tensor, atol: f64, rtol: f64) {
    assert_eq!(got.device(), Device::Gpu(0), "{what}: result left the GPU");
    assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtypes differ");
    let (g, w) = (got.to_vec_f64(), want.to_vec_f64());
    for (i, (&g, &w)) in g.iter().zip(&w).enumerate() {
        let ok = g == w || (g.is_nan() && w.is_nan()) || (g - w).abs() <= atol + rtol * w.abs();
        assert!(ok, "{what}: element {i} is {g} on the GPU and {w} on the CPU");
    }
}

/// The panic message of `f`.
fn panic_message(f: impl FnOnce()) -> String {
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

#[test]
fn tensors_move_to_the_gpu_and_back_in_every_dtype() {
    let dev = gpu();
    let f = randn(&[3, 5], 1);
    for dtype in [DType::F32, DType::F64, DType::BF16, DType::F16, DType::U8, DType::I64] {
        let x = f.mul_scalar(10.0).to_dtype(dtype);
        let g = x.to_device(dev);
        assert_eq!(g.device(), dev);
        assert_eq!((g.dtype(), g.shape()), (dtype, x.shape()));
        let back = g.to_cpu();
        assert_eq!(back.device(), Device::Cpu);
        assert_eq!(back.to_vec_f64(), x.to_vec_f64(), "{dtype} round trip");
        assert!(g.as_slice::<f32>().is_none(), "a GPU tensor has no host slice");
    }
    assert_eq!(Tensor::zeros_on([2, 3], DType::F32, dev).to_vec::<f32>(), vec![0.0; 6]);
    assert_eq!(Tensor::full_on([4], 2.5, DType::F32, dev).to_vec::<f32>(), vec![2.5; 4]);
    assert_eq!(f.to_device(dev).ones_like().device(), dev, "ones_like stays on the device");
    let shown = format!("{}", Tensor::from_vec(vec![1.5f32, -2.0], [2]).to_device(dev));
    assert!(shown.starts_with("Tensor[2] f32 on gpu:0") && shown.contains("1.5"), "{shown}");
}

/// A view op under test.
type View = Box<dyn Fn(&Tensor) -> Tensor>;

#[test]
fn views_stay_on_the_device_without_copies_and_read_back_right() {
    let dev = gpu();
    let x = randn(&[2, 3, 4, 5], 2);
    let g = x.to_device(dev);
    let views: [(&str, View); 7] = [
        ("permute", Box::new(|t| t.permute(&[3, 1, 0, 2]))),
        ("transpose", Box::new(|t| t.t())),
        ("narrow", Box::new(|t| t.narrow(2, 1, 2).narrow(3, 2, 3))),
        ("reshape", Box::new(|t| t.reshape([6, 20]))),
        ("broadcast", Box::new(|t| t.narrow(0, 1, 1).broadcast_to([3, 2, 3, 4, 5]))),
        ("unsqueeze", Box::new(|t| t.unsqueeze(1).squeeze(1))),
        ("split", Box::new(|t| t.split(&[1, 2], 1)[1].clone())),
    ];
    for (name, view) in &views {
        let v = view(&g);
        assert!(v.shares_storage_with(&g), "{name} copied on the GPU");
        assert_eq!(v.to_cpu().to_vec::<f32>(), view(&x).to_vec::<f32>(), "{name} reads back wrong");
        // And a contiguous copy on the device holds the same values.
        assert_close(name, &v.contiguous(), &view(&x).contiguous(), 0.0, 0.0);
    }
    // A reshape that needs a copy (a transposed flatten) makes it on the device.
    assert_close("t().reshape", &g.t().reshape([120]), &x.t().reshape([120]), 0.0, 0.0);
    // Patchify: a rank-6 permute then a copy.
    let img = randn(&[2, 3, 8, 12], 3);
    assert_close("patchify", &img.to_device(dev).patchify(4), &img.patchify(4), 0.0, 0.0);
}

#[test]
fn casts_between_f32_bf16_and_masks() {
    let dev = gpu();
    let x = randn(&[7, 9], 4).mul_scalar(100.0);
    let g = x.to_device(dev);
    assert_close("f32 -> bf16", &g.to_dtype(DType::BF16), &x.to_dtype(DType::BF16), 0.0, 0.0);
    let b = x.to_dtype(DType::BF16);
    assert_close(
        "bf16 -> f32 of a view",
        &b.to_device(dev).t().to_dtype(DType::F32),
        &b.t().to_dtype(DType::F32),
        0.0,
        0.0,
    );
    let mask = x.compare_scalar(CmpOp::Gt, 0.0);
    assert_close("u8 -> f32", &mask.to_device(dev).to_dtype(DType::F32), &mask.to_dtype(DType::F32), 0.0, 0.0);
}

#[test]
fn unary_ops_match_the_cpu() {
    let dev = gpu();
    let x = randn(&[5, 33], 5).mul_scalar(3.0);
    let pos = x.abs().add_scalar(0.01);
    let ops = [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Tanh,
        UnaryOp::Gelu,
        UnaryOp::GeluGrad,
        UnaryOp::Relu,
        UnaryOp::Sigmoid,
        UnaryOp::Abs,
        UnaryOp::Square,
        UnaryOp::Recip,
        UnaryOp::Powf(3.0),
        UnaryOp::Powf(1.5),
        UnaryOp::Powf(2.0),
        UnaryOp::Powf(1.0),
        UnaryOp::Powf(0.0),
    ];
    for op in ops {
        let input =
            if matches!(op, UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Rsqrt | UnaryOp::Powf(1.5)) { &pos } else { &x };
        // On a transposed view: the kernel reads the strides in place.
        let got = input.to_device(dev).t().unary(op);
        // Both sides within a few ulp of exact (ex2/lg2.approx: 2 ulp plus the log2(e) scaling, ~10 ulp
        // at |x| = 9; the CPU's own functions ~1 ulp; GELU's erf forms 3e-7 |x| and 4e-7).
        assert_close(&format!("{op:?}"), &got, &input.t().unary(op), 3e-6, 3e-6);
    }
}

#[test]
fn binary_ops_and_comparisons_broadcast_like_the_cpu() {
    let dev = gpu();
    let a = randn(&[4, 3, 5], 6);
    let mut bv = randn(&[3, 1], 7).to_vec::<f32>();
    bv[1] = a.to_vec::<f32>()[5]; // an equal pair, so Eq/Le/Ge see a tie
    let b = Tensor::from_vec(bv, [3, 1]);
    let c = randn(&[5, 3, 4], 8).permute(&[2, 1, 0]); // [4, 3, 5], fully strided
    let (ga, gb, gc) = (a.to_device(dev), b.to_device(dev), c.to_device(dev));
    for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum, BinaryOp::Minimum] {
        // Each op rounds once on both devices: equal bits.
        assert_close(&format!("{op:?} broadcast"), &ga.binary(op, &gb), &a.binary(op, &b), 0.0, 0.0);
        assert_close(&format!("{op:?} strided"), &gc.binary(op, &ga), &c.binary(op, &a), 0.0, 0.0);
        assert_close(
            &format!("{op:?} scalar"),
            &gc.binary_scalar(op, 0.3, false),
            &c.binary_scalar(op, 0.3, false),
            0.0,
            0.0,
        );
        assert_close(
            &format!("scalar {op:?}"),
            &ga.binary_scalar(op, 0.3, true),
            &a.binary_scalar(op, 0.3, true),
            0.0,
            0.0,
        );
    }
    for op in [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge] {
        assert_close(&format!("{op:?}"), &ga.compare(op, &gb), &a.compare(op, &b), 0.0, 0.0);
        assert_close(&format!("{op:?} scalar"), &gc.compare_scalar(op, 0.1), &c.compare_scalar(op, 0.1), 0.0, 0.0);
    }
    assert_close("clamp", &gc.clamp(-0.5, 0.5), &c.clamp(-0.5, 0.5), 0.0, 0.0);
    assert_close("operator +", &(&ga + &gb), &(&a + &b), 0.0, 0.0);
}

#[test]
fn reductions_match_the_cpu_over_any_axes() {
    let dev = gpu();
    let x = randn(&[3, 4, 37], 9);
    let g = x.to_device(dev);
    let cases: [&[isize]; 6] = [&[-1], &[0], &[1], &[0, 2], &[], &[0, 1]];
    for axes in cases {
        for keepdim in [false, true] {
            for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::SumSquares] {
                // Sums of <= 444 values of size ~1 in another order: ~1e-5 absolute apart at most.
                let what = format!("{op:?} over {axes:?} keepdim {keepdim}");
                assert_close(&what, &g.reduce(op, axes, keepdim), &x.reduce(op, axes, keepdim), 2e-5, 1e-5);
            }
            assert_close("mean", &g.mean(axes, keepdim), &x.mean(axes, keepdim), 1e-6, 1e-5);
        }
    }
    assert_close("var", &g.var(&[-1], 1, true), &x.var(&[-1], 1, true), 1e-6, 1e-5);
    assert_close("norm of a view", &g.t().norm(&[0], false), &x.t().norm(&[0], false), 1e-6, 1e-5);
    // Index reductions, with ties (rounded values) and a NaN, over the last and a leading axis.
    let mut v = x.mul_scalar(2.0).to_vec::<f32>().iter().map(|v| v.round()).collect::<Vec<f32>>();
    v[50] = f32::NAN;
    let t = Tensor::from_vec(v, [3, 4, 37]);
    let gt = t.to_device(dev);
    for (axis, keepdim) in [(-1, false), (0, true), (1, false)] {
        assert_close("argmax", &gt.argmax(axis, keepdim), &t.argmax(axis, keepdim), 0.0, 0.0);
        assert_close("argmin", &gt.argmin(axis, keepdim), &t.argmin(axis, keepdim), 0.0, 0.0);
    }
    // Long rows take two passes (chunks, then rows): 12288 = 3 chunks of 4096, and a prime
    // length that stays in one pass.
    for dims in [[2, 12288], [1, 8209]] {
        let long = randn(&dims, 11);
        let gl = long.to_device(dev);
        for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::SumSquares] {
            // Sums of ~1e4 N(0, 1) values in f32, in other orders: ~1e-4 apart, relative to ~1e2.
            assert_close(
                &format!("{op:?} of {dims:?}"),
                &gl.reduce(op, &[-1], false),
                &long.reduce(op, &[-1], false),
                1e-3,
                1e-5,
            );
        }
        assert_close("sum_all", &gl.sum_all(), &long.sum_all(), 1e-3, 1e-5);
    }
    let big = randn(&[3, 4, 37], 10);
    let shape = tensor::Shape::new([4, 1]);
    assert_close("sum_to", &big.to_device(dev).sum_to(&shape), &big.sum_to(&shape), 2e-5, 1e-5);
}

#[test]
fn matmul_matches_the_cpu_with_transposes_and_batches() {
    let dev = gpu();
    let cases: [(Tensor, Tensor); 5] = [
        (randn(&[7, 13], 11), randn(&[13, 5], 12)),
        (randn(&[7, 13], 13), randn(&[5, 13], 14).t()), // x · wᵀ: w transposed in place
        (randn(&[13, 7], 15).t(), randn(&[13, 5], 16)), // aᵀ · g
        (randn(&[2, 3, 9, 8], 17), randn(&[8, 6], 18)), // a shared weight over the batch
        (randn(&[2, 1, 9, 8], 19), randn(&[3, 6, 8], 20).t()), // broadcast batch, transposed keys
    ];
    for (i, (a, b)) in cases.iter().enumerate() {
        let got = a.to_device(dev).matmul(&b.to_device(dev));
        // K <= 13 products of N(0, 1) values summed in another order: well under 1e-5.
        assert_close(&format!("matmul case {i}"), &got, &a.matmul(b), 1e-5, 1e-5);
    }
}

#[test]
fn bf16_matmul_runs_on_tensor_cores_with_f32_results() {
    let dev = gpu();
    let (a, b) = (randn(&[2, 20, 16], 21).to_dtype(DType::BF16), randn(&[24, 16], 22).to_dtype(DType::BF16));
    let got = a.to_device(dev).matmul(&b.to_device(dev).t());
    let want = a.to_dtype(DType::F32).matmul(&b.to_dtype(DType::F32).t());
    // bf16 products are exact in f32; only the summation order differs.
    assert_close("bf16 matmul", &got, &want, 1e-5, 1e-5);
    // K = 12 is not a multiple of 8: widened to f32 instead, same numbers.
    let (c, d) = (randn(&[5, 12], 23).to_dtype(DType::BF16), randn(&[12, 7], 24).to_dtype(DType::BF16));
    let want = c.to_dtype(DType::F32).matmul(&d.to_dtype(DType::F32));
    assert_close("bf16 matmul, K = 12", &c.to_device(dev).matmul(&d.to_device(dev)), &want, 1e-5, 1e-5);
}

#[test]
fn softmax_and_layer_norm_forward_and_backward_match_the_cpu() {
    let dev = gpu();
    let x = randn(&[3, 5, 37], 25).mul_scalar(3.0);
    let dy = randn(&[3, 5, 37], 26);
    let (gx, gdy) = (x.to_device(dev), dy.to_device(dev));
    for axis in [-1, 1] {
        let (y, gy) = (x.softmax(axis), gx.softmax(axis));
        assert_close(&format!("softmax {axis}"), &gy, &y, 1e-6, 1e-5);
        let want = Tensor::softmax_backward(&y, &dy, axis);
        assert_close(
            &format!("softmax_backward {axis}"),
            &Tensor::softmax_backward(&gy, &gdy, axis),
            &want,
            1e-6,
            1e-5,
        );
        let (l, gl) = (x.log_softmax(axis), gx.log_softmax(axis));
        assert_close(&format!("log_softmax {axis}"), &gl, &l, 1e-5, 1e-5);
        let want = Tensor::log_softmax_backward(&l, &dy, axis);
        assert_close(
            &format!("log_softmax_backward {axis}"),
            &Tensor::log_softmax_backward(&gl, &gdy, axis),
            &want,
            1e-5,
            1e-5,
        );
    }
    let (w, b) = (randn(&[37], 27), randn(&[37], 28));
    let (gw, gb) = (w.to_device(dev), b.to_device(dev));
    for affine in [false, true] {
        let (wo, bo) = if affine { (Some(&w), Some(&b)) } else { (None, None) };
        let (gwo, gbo) = if affine { (Some(&gw), Some(&gb)) } else { (None, None) };
        let cpu = x.layer_norm_with_stats(wo, bo, 1e-5);
        let got = gx.layer_norm_with_stats(gwo, gbo, 1e-5);
        assert_close("layer_norm", &got.y, &cpu.y, 1e-5, 1e-5);
        assert_close("layer_norm mean", &got.mean, &cpu.mean, 1e-6, 1e-5);
        assert_close("layer_norm rstd", &got.rstd, &cpu.rstd, 1e-6, 1e-5);
        let want = Tensor::layer_norm_backward(&x, &dy, wo, &cpu.mean, &cpu.rstd, affine, affine);
        let grads = Tensor::layer_norm_backward(&gx, &gdy, gwo, &got.mean, &got.rstd, affine, affine);
        assert_close("layer_norm dx", &grads.dx, &want.dx, 1e-5, 1e-4);
        if affine {
            assert_close("layer_norm dw", grads.dweight.as_ref().unwrap(), want.dweight.as_ref().unwrap(), 1e-5, 1e-4);
            assert_close("layer_norm db", grads.dbias.as_ref().unwrap(), want.dbias.as_ref().unwrap(), 1e-5, 1e-4);
        } else {
            assert!(grads.dweight.is_none() && grads.dbias.is_none());
        }
    }
}

#[test]
fn index_ops_and_concat_match_the_cpu() {
    let dev = gpu();
    let x = randn(&[2, 6, 5], 29);
    let gx = x.to_device(dev);
    let index = Tensor::from_vec(vec![4i64, 0, 2, 5, 1, 3], [2, 3]);
    assert_close("take_rows", &gx.take_rows(&index), &x.take_rows(&index), 0.0, 0.0);
    let rows = randn(&[2, 3, 5], 30);
    for accumulate in [false, true] {
        let got = gx.put_rows(&index, &rows.to_device(dev), accumulate);
        assert_close(
            &format!("put_rows accumulate={accumulate}"),
            &got,
            &x.put_rows(&index, &rows, accumulate),
            0.0,
            0.0,
        );
    }
    let mask = Tensor::from_vec(vec![1u8, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1], [2, 6]);
    assert_close("masked_select_rows", &gx.masked_select_rows(&mask), &x.masked_select_rows(&mask), 0.0, 0.0);
    let pick = Tensor::from_vec(vec![3i64, 3, 0], [3]);
    assert_close("index_select", &gx.index_select(1, &pick), &x.index_select(1, &pick), 0.0, 0.0);
    let targets = Tensor::from_vec(vec![2i64, 0, 4, 1, 1, 3, 0, 2, 4, 3, 2, 1], [2, 6, 1]);
    assert_close("gather", &gx.gather(2, &targets), &x.gather(2, &targets), 0.0, 0.0);
    let src = randn(&[2, 6, 1], 31);
    assert_close(
        "scatter_add",
        &gx.scatter_add(2, &targets, &src.to_device(dev)),
        &x.scatter_add(2, &targets, &src),
        0.0,
        0.0,
    );
    let parts = [x.narrow(1, 0, 2), randn(&[2, 1, 5], 32), x.t().t().narrow(1, 3, 3)];
    let gparts: Vec<Tensor> = parts.iter().map(|p| p.to_device(dev)).collect();
    assert_close("concat", &Tensor::concat(&gparts, 1), &Tensor::concat(&parts, 1), 0.0, 0.0);
    let last = [x.clone(), x.mul_scalar(2.0)];
    let glast: Vec<Tensor> = last.iter().map(|p| p.to_device(dev)).collect();
    assert_close("stack", &Tensor::stack(&glast, -1), &Tensor::stack(&last, -1), 0.0, 0.0);
}

#[test]
fn ops_without_a_gpu_kernel_and_mixed_devices_panic_clearly() {
    let dev = gpu();
    let g = randn(&[2, 3], 33).to_device(dev);
    let msg = panic_message(|| {
        g.reshape([1, 1, 2, 3]).max_pool2d(1, 1);
    });
    assert!(msg.contains("max_pool2d") && msg.contains("gpu:0") && msg.contains("to_cpu"), "{msg}");
    let cpu = randn(&[2, 3], 34);
    let msg = panic_message(|| {
        g.add(&cpu);
    });
    assert!(msg.contains("cpu") && msg.contains("gpu:0") && msg.contains("to_device"), "{msg}");
    let msg = panic_message(|| {
        g.to_dtype(DType::F64).exp();
    });
    assert!(msg.contains("f32") && msg.contains("f64"), "{msg}");
    let repeated = Tensor::from_vec(vec![1i64, 1], [1, 2]);
    let msg = panic_message(|| {
        g.reshape([1, 2, 3]).put_rows(&repeated, &Tensor::zeros_on([1, 2, 3], DType::F32, dev), true);
    });
    assert!(msg.contains("written twice"), "{msg}");
}

#[test]
fn fused_gelu_backward_and_adamw_match_the_cpu() {
    let dev = gpu();
    let (x, dy) = (randn(&[6, 37], 35).mul_scalar(3.0), randn(&[6, 37], 36));
    // The erf approximations of both devices: within 4e-7 of the exact derivative each.
    assert_close(
        "gelu_backward",
        &x.to_device(dev).gelu_backward(&dy.to_device(dev)),
        &x.gelu_backward(&dy),
        2e-6,
        2e-6,
    );
    let (w, g) = (randn(&[5, 9], 37), randn(&[5, 9], 38));
    let (m, v) = (randn(&[5, 9], 39).mul_scalar(0.1), randn(&[5, 9], 40).square().mul_scalar(0.01));
    for (weight_decay, grad_scale) in [(0.05, 0.5), (0.0, 1.0)] {
        let step = AdamWStep { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay, t: 3, grad_scale };
        let cpu = w.adamw_update(&g, &m, &v, &step);
        let on = |t: &Tensor| t.to_device(dev);
        let got = on(&w).adamw_update(&on(&g), &on(&m), &on(&v), &step);
        // The same correctly rounded operations in the same order on both devices: the same bits.
        assert_close("adamw weights", &got.0, &cpu.0, 0.0, 0.0);
        assert_close("adamw first moment", &got.1, &cpu.1, 0.0, 0.0);
        assert_close("adamw second moment", &got.2, &cpu.2, 0.0, 0.0);
    }
}
