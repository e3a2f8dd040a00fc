//! A small CAE end to end on the CPU: shapes, gradients reaching every parameter, and a loss that
//! falls under plain gradient descent on a fixed batch.

use cae::masking::{batch_masks, MaskSpec};
use cae::{Cae, CaeConfig, Target, TargetValues};
use tensor::{DType, Tensor};

fn small_config(target: Target) -> CaeConfig {
    CaeConfig {
        image_size: 32,
        patch_size: 4,
        in_chans: 1,
        dim: 32,
        depth: 2,
        heads: 2,
        regressor_depth: 1,
        decoder_depth: 1,
        init_values: 0.1,
        drop_path: 0.1,
        num_masked: 32,
        target,
        align_weight: 2.0,
    }
}

fn sgd_step(model: &Cae, lr: f64) {
    for (_, p) in model.params.iter() {
        if let Some(g) = p.grad() {
            p.set_value(p.value().sub(&g.mul_scalar(lr)));
        }
    }
    model.params.zero_grad();
}

#[test]
fn every_parameter_learns_and_the_loss_falls() {
    let model = Cae::new(small_config(Target::Pixels), 0);
    let images = Tensor::rand_uniform([4, 1, 32, 32], 0.0, 1.0, DType::F32, 1);
    let mask = batch_masks(&MaskSpec::new(8, 8, 32), 4, 2, true);
    let first = model.forward(&images, &mask, TargetValues::Pixels, Some(3));
    assert!(first.loss.value().item().is_finite());
    first.loss.backward();
    for (name, p) in model.params.iter() {
        let g = p.grad().unwrap_or_else(|| panic!("{name} received no gradient"));
        assert_eq!(g.shape(), &p.shape(), "{name}");
        assert!(g.to_vec_f64().iter().all(|v| v.is_finite()), "{name} has a non-finite gradient");
    }
    sgd_step(&model, 0.05);
    let mut last = first.main;
    for step in 0..15 {
        let out = model.forward(&images, &mask, TargetValues::Pixels, None);
        out.loss.backward();
        sgd_step(&model, 0.05);
        last = out.main;
        assert!(out.align.is_finite(), "step {step}");
    }
    assert!(last < 0.9 * first.main, "pixel loss went from {} to {last}", first.main);
}

#[test]
fn token_target_uses_cross_entropy_over_the_vocabulary() {
    let model = Cae::new(small_config(Target::Tokens { vocab: 10 }), 0);
    let images = Tensor::rand_uniform([2, 1, 32, 32], 0.0, 1.0, DType::F32, 1);
    let mask = batch_masks(&MaskSpec::new(8, 8, 32), 2, 2, true);
    let ids = Tensor::from_vec((0..2 * 64).map(|i| (i % 10) as i64).collect(), [2, 64]);
    let out = model.forward(&images, &mask, TargetValues::Tokens(&ids), Some(0));
    // Random logits of unit-order spread: CE a little above the uniform ln(vocab).
    assert!(out.main > 10f64.ln() && out.main < 10f64.ln() + 2.0, "initial CE {}", out.main);
    out.loss.backward();
    assert!(model.params.get("decoder.head.weight").unwrap().grad().is_some());
}

#[test]
fn parameter_counts_match_the_spec() {
    // The spec's whole pre-training model sizes: tiny ≈ 10.6 M, small ≈ 39 M (8192-token head).
    let count = |cfg: CaeConfig| Cae::new(cfg, 0).params.num_elements() as f64 / 1e6;
    let tiny = count(CaeConfig::tiny());
    assert!((tiny - 10.6).abs() < 0.6, "tiny has {tiny:.2} M parameters");
    let small = count(CaeConfig::small());
    assert!((small - 39.0).abs() < 1.5, "small has {small:.2} M parameters");
}

#[test]
#[should_panic(expected = "invalid CAE configuration: width 30 does not split into 4 heads")]
fn bad_configs_are_rejected_by_name() {
    Cae::new(CaeConfig { dim: 30, heads: 4, ..small_config(Target::Pixels) }, 0);
}
