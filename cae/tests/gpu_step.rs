//! A tiny CAE training step on the GPU device (the PTX interpreter, or CUDA with `CAE_GPU=cuda` and
//! tensor's `cuda` feature): the same model, images and mask give the CPU's losses, every parameter
//! gradient (drop path included) and gradient norm, and AdamW steps on the device keep the weights
//! with the CPU's.

use cae::masking::{batch_masks, MaskSpec};
use cae::optim::{grad_norm, AdamW, AdamWConfig};
use cae::{Cae, CaeConfig, Target, TargetValues};
use tensor::gpu::{select, GpuBackend};
use tensor::{DType, Device, Tensor};

fn tiny() -> CaeConfig {
    CaeConfig {
        image_size: 16,
        patch_size: 4,
        in_chans: 1,
        dim: 16,
        depth: 2,
        heads: 2,
        regressor_depth: 1,
        decoder_depth: 1,
        init_values: 0.1,
        drop_path: 0.1,
        num_masked: 6,
        target: Target::Pixels,
        align_weight: 2.0,
    }
}

/// Largest gradient difference over the largest CPU gradient, per parameter, must stay within `tol`;
/// plus 1e-6 absolute, for gradients that are zero in exact arithmetic and rounding noise (~1e-8)
/// in f32 (the key LayerNorm's bias: a shift of every key moves all logits of a row together, which
/// softmax ignores).
#[track_caller]
fn assert_same_grads(cpu: &Cae, gpu: &Cae, tol: f64) {
    for ((name, c), (_, g)) in cpu.params.iter().zip(gpu.params.iter()) {
        let (c, g) = (
            c.grad().unwrap_or_else(|| panic!("{name}: no CPU gradient")),
            g.grad().unwrap_or_else(|| panic!("{name}: no GPU gradient")),
        );
        assert_eq!(g.device(), Device::Gpu(0), "{name}: gradient left the GPU");
        let (cv, gv) = (c.to_vec_f64(), g.to_vec_f64());
        let scale = cv.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
        let worst = cv.iter().zip(&gv).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= tol * scale + 1e-6, "{name}: gradients differ by {worst:e} (largest {scale:e})");
    }
}

#[test]
fn a_tiny_cae_step_on_the_gpu_matches_the_cpu() {
    let backend =
        if std::env::var("CAE_GPU").as_deref() == Ok("cuda") { GpuBackend::Cuda } else { GpuBackend::Interpreter };
    select(backend).unwrap();
    let dev = Device::Gpu(0);
    let (cpu, gpu) = (Cae::new(tiny(), 0), Cae::new(tiny(), 0));
    for (_, p) in gpu.params.iter() {
        p.set_value(p.value().to_device(dev));
    }
    let images = Tensor::rand_uniform([2, 1, 16, 16], 0.0, 1.0, DType::F32, 1);
    let mask = batch_masks(&MaskSpec::new(4, 4, 6), 2, 2, true); // on the host: indices are host data
    let gimages = images.to_device(dev);
    // The moments are made like each parameter: on the GPU for the GPU model.
    let (mut cpu_opt, mut gpu_opt) =
        (AdamW::new(&cpu.params, AdamWConfig::default()), AdamW::new(&gpu.params, AdamWConfig::default()));
    for step in 0..2 {
        // One model at a time: a backward pass consumes the whole (thread's) tape.
        let c = cpu.forward(&images, &mask, TargetValues::Pixels, Some(3 + step));
        c.loss.backward();
        let g = gpu.forward(&gimages, &mask, TargetValues::Pixels, Some(3 + step));
        g.loss.backward();
        // f32 through ~40 ops, with approximate exp/log on the GPU side: a few parts in 1e6.
        assert!((c.main - g.main).abs() <= 1e-5 * c.main.abs(), "step {step}: pixel loss {} vs {}", g.main, c.main);
        assert!(
            (c.align - g.align).abs() <= 1e-4 * c.align.abs().max(1e-3),
            "step {step}: align {} vs {}",
            g.align,
            c.align
        );
        assert_same_grads(&cpu, &gpu, 2e-4);
        let (cn, gn) = (grad_norm(&cpu.params, 1.0), grad_norm(&gpu.params, 1.0));
        assert!((cn - gn).abs() <= 1e-4 * cn, "step {step}: gradient norm {gn} vs {cn}");
        cpu_opt.step(&cpu.params, 1e-3, 1.0);
        gpu_opt.step(&gpu.params, 1e-3, 1.0);
        for ((name, c), (_, g)) in cpu.params.iter().zip(gpu.params.iter()) {
            let (c, g) = (c.value(), g.value());
            assert_eq!(g.device(), dev, "{name} left the GPU");
            if name.ends_with("norm1_k.bias") {
                // Its gradient is zero in exact arithmetic (see assert_same_grads) and Adam's step is
                // ~lr times the sign of the rounding noise, which differs between the devices.
                continue;
            }
            // Measured: at most 2e-6 apart (weights of size ~0.1-1 in f32, updates of ~1e-3).
            let worst = c.to_vec_f64().iter().zip(g.to_vec_f64()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(worst <= 1e-5, "step {step}: {name} differs by {worst:e} after AdamW");
        }
    }
}
