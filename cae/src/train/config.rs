//! The run configuration: a TOML file with sections `[model]`, `[data]`, `[optim]`, `[train]`, and
//! `--set section.key=value` overrides on the command line. Unknown keys are rejected by name, so a
//! typo never silently falls back to a default.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tensor::Device;

use crate::config::{CaeConfig, Target};
use crate::masking::{block_mask_fits, MaskSpec};

/// Everything a pre-training run needs, as read from the config file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub model: ModelSection,
    pub data: DataSection,
    #[serde(default)]
    pub optim: OptimSection,
    pub train: TrainSection,
}

/// `[model]`: a preset, with any field overridden.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// "tiny", "small", "base", "large", or "custom" (then every size field must be given).
    pub preset: String,
    pub image_size: Option<usize>,
    pub patch_size: Option<usize>,
    pub in_chans: Option<usize>,
    pub dim: Option<usize>,
    pub depth: Option<usize>,
    pub heads: Option<usize>,
    pub regressor_depth: Option<usize>,
    pub decoder_depth: Option<usize>,
    pub init_values: Option<f64>,
    pub drop_path: Option<f64>,
    pub num_masked: Option<usize>,
    /// "pixels" or "dalle".
    pub target: Option<String>,
    pub align_weight: Option<f64>,
    /// "block" (BEiT-style, the default) or "random".
    #[serde(default = "default_mask")]
    pub mask: String,
    /// The dVAE encoder weights (safetensors) for `target = "dalle"`; "random" for a random tokenizer
    /// (tests and timing only).
    pub tokenizer: Option<String>,
}

fn default_mask() -> String {
    "block".into()
}

/// `[data]`: where the shards are and how they are read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// A folder written by `prep` (it holds `manifest.json`).
    pub path: PathBuf,
    #[serde(default = "default_split")]
    pub split: String,
    pub batch_size: usize,
    /// "rrc" (RandomResizedCrop + flip, the spec's) or "none" (images as stored, only resized).
    #[serde(default = "default_augment")]
    pub augment: String,
    /// Loader threads; 0 = one per core.
    #[serde(default)]
    pub workers: usize,
}

fn default_split() -> String {
    "train".into()
}
fn default_augment() -> String {
    "rrc".into()
}

/// `[optim]`: AdamW, the schedule, clipping and accumulation. Defaults are the spec's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimSection {
    /// Peak learning rate (not rescaled by batch size).
    pub lr: f64,
    /// Floor of the cosine schedule.
    pub min_lr: f64,
    /// Linear warmup length in epochs (fractions allowed).
    pub warmup_epochs: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Largest global gradient norm; 0 turns clipping off.
    pub clip_grad: f64,
    /// Micro-batches whose gradients are averaged into one optimiser step.
    pub accum_steps: usize,
}

impl Default for OptimSection {
    fn default() -> Self {
        OptimSection {
            lr: 1.5e-3,
            min_lr: 1e-5,
            warmup_epochs: 10.0,
            weight_decay: 0.05,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            clip_grad: 3.0,
            accum_steps: 1,
        }
    }
}

/// `[train]`: length, seed, outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    pub epochs: f64,
    /// Stop after this many optimiser steps even if epochs remain (0 = no limit); the schedule
    /// still spans `epochs`.
    #[serde(default)]
    pub max_steps: u64,
    #[serde(default)]
    pub seed: u64,
    /// Where checkpoints, the log and pictures go.
    pub out_dir: PathBuf,
    /// Optimiser steps between checkpoints (one is always written at the end).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// Checkpoints kept (older ones are deleted after a new one is complete).
    #[serde(default = "default_keep_last")]
    pub keep_last: usize,
    /// Optimiser steps between redraws of the loss-curve picture.
    #[serde(default = "default_plot_every")]
    pub plot_every: u64,
    /// Where the model trains: "cpu", or "gpu" / "gpu:N" (the CUDA device, with the `cuda` feature).
    #[serde(default = "default_device")]
    pub device: String,
    /// "f32", or "bf16": matrix products from bf16 operands on the GPU's tensor cores, with f32
    /// master weights, gradients and everything else (GPU only).
    #[serde(default = "default_precision")]
    pub precision: String,
}

fn default_checkpoint_every() -> u64 {
    500
}
fn default_keep_last() -> usize {
    3
}
fn default_plot_every() -> u64 {
    50
}
fn default_device() -> String {
    "cpu".into()
}
fn default_precision() -> String {
    "f32".into()
}

impl TrainSection {
    /// The device named by `train.device`.
    pub fn device(&self) -> anyhow::Result<Device> {
        let d = self.device.as_str();
        let gpu = |n: &str| n.parse().map(Device::Gpu).ok();
        match d {
            "cpu" => Ok(Device::Cpu),
            "gpu" => Ok(Device::Gpu(0)),
            _ => d
                .strip_prefix("gpu:")
                .and_then(gpu)
                .with_context(|| format!("train.device must be \"cpu\", \"gpu\" or \"gpu:N\", not {d:?}")),
        }
    }
}

impl RunConfig {
    /// Reads `path` and applies `overrides` (`section.key=value`; the value is TOML, or a bare string).
    pub fn load(path: &Path, overrides: &[String]) -> anyhow::Result<RunConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read config", path.display()))?;
        Self::parse(&text, overrides).with_context(|| format!("{}: invalid config", path.display()))
    }

    /// Parses config text and applies overrides, then checks the model it describes.
    pub fn parse(text: &str, overrides: &[String]) -> anyhow::Result<RunConfig> {
        let mut table: toml::Table = text.parse()?;
        for o in overrides {
            apply_override(&mut table, o)?;
        }
        let config: RunConfig = table.try_into()?;
        let model = config.model_config()?;
        config.check(&model)?;
        Ok(config)
    }

    /// The config as TOML text (stored in every checkpoint).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a RunConfig always serialises")
    }

    fn check(&self, model: &CaeConfig) -> anyhow::Result<()> {
        let (d, o, t) = (&self.data, &self.optim, &self.train);
        if d.batch_size == 0 {
            bail!("data.batch_size must be at least 1");
        }
        if !matches!(d.augment.as_str(), "rrc" | "none") {
            bail!("data.augment must be \"rrc\" or \"none\", not {:?}", d.augment);
        }
        if o.accum_steps == 0 {
            bail!("optim.accum_steps must be at least 1");
        }
        // Written so that NaN fails every test (it compares false with anything).
        if !(o.lr > 0.0 && o.min_lr >= 0.0 && o.min_lr <= o.lr && o.lr.is_finite()) {
            bail!("optim.lr must be positive and finite, and optim.min_lr in [0, lr]");
        }
        let finite_non_negative = |v: f64| v >= 0.0 && v.is_finite();
        if ![o.warmup_epochs, o.clip_grad, o.weight_decay].into_iter().all(finite_non_negative) {
            bail!("optim.warmup_epochs, clip_grad and weight_decay must be finite and not negative");
        }
        if !((0.0..1.0).contains(&o.beta1) && (0.0..1.0).contains(&o.beta2)) {
            bail!("optim.beta1 and beta2 must be in [0, 1) (the moments' decay; 1 never updates them)");
        }
        if !(o.eps > 0.0 && o.eps.is_finite()) {
            bail!("optim.eps must be positive (it keeps AdamW's denominator away from 0)");
        }
        if !self.model.align_weight.is_none_or(finite_non_negative) {
            bail!("model.align_weight must be finite and not negative (it weighs a loss)");
        }
        if !(t.epochs > 0.0 && t.epochs.is_finite()) {
            bail!("train.epochs must be positive and finite");
        }
        if t.checkpoint_every == 0 || t.keep_last == 0 || t.plot_every == 0 {
            bail!("train.checkpoint_every, keep_last and plot_every must be at least 1");
        }
        let device = t.device()?;
        match t.precision.as_str() {
            "f32" => {}
            "bf16" if device != Device::Cpu => {}
            "bf16" => bail!("train.precision = \"bf16\" needs train.device = \"gpu\" (the CPU computes in f32)"),
            other => bail!("train.precision must be \"f32\" or \"bf16\", not {other:?}"),
        }
        if !matches!(self.model.mask.as_str(), "block" | "random") {
            bail!("model.mask must be \"block\" or \"random\", not {:?}", self.model.mask);
        }
        if self.model.mask == "block" {
            block_mask_fits(&MaskSpec::new(model.grid(), model.grid(), model.num_masked))
                .map_err(|e| anyhow::anyhow!("model: {e}"))?;
        }
        Ok(())
    }

    /// The model architecture this config describes.
    pub fn model_config(&self) -> anyhow::Result<CaeConfig> {
        let m = &self.model;
        let mut c = match m.preset.as_str() {
            "tiny" => CaeConfig::tiny(),
            "small" => CaeConfig::small(),
            "base" => CaeConfig::base(),
            "large" => CaeConfig::large(),
            "custom" => {
                let missing: Vec<&str> = [
                    ("image_size", m.image_size.is_none()),
                    ("patch_size", m.patch_size.is_none()),
                    ("dim", m.dim.is_none()),
                    ("depth", m.depth.is_none()),
                    ("heads", m.heads.is_none()),
                    ("num_masked", m.num_masked.is_none()),
                ]
                .into_iter()
                .filter_map(|(k, absent)| absent.then_some(k))
                .collect();
                if !missing.is_empty() {
                    bail!("model.preset = \"custom\" needs model.{}", missing.join(", model."));
                }
                CaeConfig::tiny()
            }
            other => bail!("model.preset must be tiny, small, base, large or custom, not {other:?}"),
        };
        macro_rules! take {
            ($($field:ident),*) => { $(if let Some(v) = m.$field { c.$field = v; })* };
        }
        take!(image_size, patch_size, in_chans, dim, depth, heads, regressor_depth, decoder_depth);
        take!(init_values, drop_path, num_masked, align_weight);
        if let Some(t) = &m.target {
            c.target = match t.as_str() {
                "pixels" => Target::Pixels,
                "dalle" => Target::Tokens { vocab: 8192 },
                other => bail!("model.target must be \"pixels\" or \"dalle\", not {other:?}"),
            };
        }
        if !matches!(c.in_chans, 1 | 3) {
            bail!("model.in_chans must be 1 or 3, not {}", c.in_chans);
        }
        if matches!(c.target, Target::Tokens { .. }) {
            if m.tokenizer.is_none() {
                bail!(
                    "model.target = \"dalle\" needs model.tokenizer (a converted encoder.safetensors, or \"random\")"
                );
            }
            if c.in_chans != 3 || c.grid() * 8 != c.image_size / 2 {
                bail!("the DALL-E target needs 3 channels and a patch grid of (image_size / 2) / 8");
            }
        }
        c.validate().map_err(|e| anyhow::anyhow!("model: {e}"))?;
        Ok(c)
    }
}

/// Sets `section.key` in `table` from `section.key=value`, refusing keys the file format does not
/// know (checked later by deserialisation, which names the key).
fn apply_override(table: &mut toml::Table, text: &str) -> anyhow::Result<()> {
    let (key, value) = text.split_once('=').with_context(|| format!("--set {text:?}: expected key=value"))?;
    let (key, value) = (key.trim(), value.trim());
    let parts: Vec<&str> = key.split('.').collect();
    if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
        bail!("--set {text:?}: keys are section.name, like train.epochs");
    }
    // A value that is not valid TOML (a bare path or word) is taken as a string.
    let value: toml::Value = match format!("v = {value}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").expect("the key just written"),
        Err(_) => toml::Value::String(value.to_string()),
    };
    let section = table
        .entry(parts[0])
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .with_context(|| format!("--set {text:?}: {} is not a section", parts[0]))?;
    section.insert(parts[1].to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        [model]
        preset = "custom"
        image_size = 28
        patch_size = 4
        in_chans = 1
        dim = 64
        depth = 2
        heads = 2
        num_masked = 20
        target = "pixels"
        [data]
        path = "shards"
        batch_size = 32
        [train]
        epochs = 1
        out_dir = "runs/x"
    "#;

    #[test]
    fn parses_and_fills_defaults() {
        let c = RunConfig::parse(BASE, &[]).unwrap();
        let m = c.model_config().unwrap();
        assert_eq!((m.grid(), m.dim, m.in_chans, m.target), (7, 64, 1, Target::Pixels));
        assert_eq!(c.optim.clip_grad, 3.0);
        assert_eq!(c.data.augment, "rrc");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = format!("{:#}", RunConfig::parse(&format!("{BASE}\nlearning_rate = 1"), &[]).unwrap_err());
        assert!(err.contains("learning_rate"), "{err}");
        let err = format!("{:#}", RunConfig::parse(BASE, &["optim.lrr=0.1".into()]).unwrap_err());
        assert!(err.contains("lrr"), "{err}");
        let err = format!("{:#}", RunConfig::parse(BASE, &["nosection.x=1".into()]).unwrap_err());
        assert!(err.contains("nosection"), "{err}");
    }

    #[test]
    fn overrides_apply_with_toml_or_bare_values() {
        let c = RunConfig::parse(BASE, &["optim.lr=0.01".into(), "train.out_dir=/tmp/run 2".into()]).unwrap();
        assert_eq!(c.optim.lr, 0.01);
        assert_eq!(c.train.out_dir, PathBuf::from("/tmp/run 2"));
        assert!(RunConfig::parse(BASE, &["optim.lr".into()]).is_err());
    }

    #[test]
    fn bad_models_are_refused_with_the_reason() {
        let err = format!("{:#}", RunConfig::parse(BASE, &["model.heads=3".into()]).unwrap_err());
        assert!(err.contains("heads"), "{err}");
        let err = format!("{:#}", RunConfig::parse(BASE, &["model.target=\"dalle\"".into()]).unwrap_err());
        assert!(err.contains("tokenizer"), "{err}");
    }

    #[test]
    fn numbers_that_cannot_train_are_refused_before_training() {
        // NaN compares false with anything, so each check must be written to fail on it.
        for (set, named) in [
            ("train.epochs=nan", "train.epochs"),
            ("train.epochs=inf", "train.epochs"),
            ("optim.warmup_epochs=nan", "warmup_epochs"),
            ("optim.clip_grad=nan", "clip_grad"),
            ("optim.weight_decay=nan", "weight_decay"),
            ("optim.lr=nan", "optim.lr"),
            ("optim.beta1=1", "beta1"),
            ("optim.beta2=1.5", "beta2"),
            ("optim.eps=-1e-8", "optim.eps"),
            ("model.align_weight=-1", "align_weight"),
        ] {
            let err = format!("{:#}", RunConfig::parse(BASE, &[set.into()]).expect_err(set));
            assert!(err.contains(named), "{set}: {err}");
        }
    }

    #[test]
    fn a_block_mask_the_grid_cannot_hold_is_refused_before_training() {
        // 16×16 images in 4×4 patches: a 4×4 grid, whose blocks are at most 3×3.
        let grid4 = ["model.image_size=16".into(), "model.num_masked=13".into()];
        let err = format!("{:#}", RunConfig::parse(BASE, &grid4).unwrap_err());
        assert!(err.contains("cannot mask 13 of 4×4") && err.contains("random"), "{err}");
        let random = [grid4[0].clone(), grid4[1].clone(), "model.mask=\"random\"".into()];
        assert!(RunConfig::parse(BASE, &random).is_ok());
    }

    #[test]
    fn round_trips_through_toml() {
        let c = RunConfig::parse(BASE, &[]).unwrap();
        assert_eq!(RunConfig::parse(&c.to_toml(), &[]).unwrap(), c);
    }
}
