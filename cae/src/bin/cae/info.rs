//! `cae info`: what a config builds, its size and its cost.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use cae::flops::StepFlops;
use cae::train::RunConfig;
use cae::{Cae, CaeConfig};

pub fn run(config: Option<&Path>, preset: Option<&str>) -> anyhow::Result<ExitCode> {
    let (name, c) = match (config, preset) {
        (Some(path), _) => (path.display().to_string(), RunConfig::load(path, &[])?.model_config()?),
        (None, Some("tiny")) => ("tiny".into(), CaeConfig::tiny()),
        (None, Some("small")) => ("small".into(), CaeConfig::small()),
        (None, Some("base")) => ("base".into(), CaeConfig::base()),
        (None, Some("large")) => ("large".into(), CaeConfig::large()),
        (None, Some(other)) => bail!("unknown preset {other:?} (tiny, small, base, large)"),
        (None, None) => bail!("give --config FILE or --preset NAME"),
    };
    let model = Cae::new(c.clone(), 0);
    let count = |prefix: &str| -> usize {
        model.params.iter().filter(|(n, _)| n.starts_with(prefix)).map(|(_, p)| p.numel()).sum()
    };
    let total = model.params.num_elements();
    let f = StepFlops::new(&c);
    println!("CAE {name}");
    println!(
        "  image {0}×{0}×{1}, patch {2} → {3}×{3} = {4} patches, {5} masked ({6:?} target)",
        c.image_size,
        c.in_chans,
        c.patch_size,
        c.grid(),
        c.num_patches(),
        c.num_masked,
        c.target
    );
    println!(
        "  width {}, {} heads; encoder {} blocks, regressor {}, decoder {}",
        c.dim, c.heads, c.depth, c.regressor_depth, c.decoder_depth
    );
    println!("  layer scale {}, drop path {}, alignment weight {}", c.init_values, c.drop_path, c.align_weight);
    println!("parameters: {:.2} M", total as f64 / 1e6);
    for (part, prefix) in [("encoder", "encoder."), ("regressor", "regresser."), ("decoder", "decoder.")] {
        println!("  {part:<10} {:>8.2} M", count(prefix) as f64 / 1e6);
    }
    println!("  {:<10} {:>8.2} M", "mask token", count("mask_token") as f64 / 1e6);
    println!("forward GFLOPs per image (multiply-add = 2):");
    for (part, v) in [
        ("patch embed", f.patch_embed),
        ("encoder", f.encoder),
        ("alignment", f.alignment),
        ("regressor", f.regressor),
        ("decoder", f.decoder),
    ] {
        println!("  {part:<12} {:>8.3}", v / 1e9);
    }
    println!(
        "training step per image (backward = 2× forward, alignment forward only): {:.3} GFLOP",
        f.training_step() / 1e9
    );
    Ok(ExitCode::SUCCESS)
}
