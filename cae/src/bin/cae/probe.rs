//! `cae probe`: linear-probe and k-NN accuracy of a checkpoint's encoder, optionally beside a
//! randomly initialised encoder of the same architecture.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use cae::probe::{extract_features, knn_top1, linear_probe, LinearProbeConfig, Pooling, KNN_K, KNN_TEMPERATURE};
use cae::Cae;
use data::manifest::MANIFEST_NAME;
use data::{Dataset, Manifest};
use serde::Serialize;

use crate::model_io;

/// What `cae probe` was asked for.
pub struct ProbeArgs {
    pub checkpoint: PathBuf,
    pub data: Option<PathBuf>,
    pub train_split: String,
    pub val_split: String,
    pub train_limit: Option<usize>,
    pub val_limit: Option<usize>,
    pub pooling: Pooling,
    /// Also probe a random-init encoder made with this seed.
    pub random_seed: Option<u64>,
    pub progress: bool,
}

#[derive(Serialize)]
struct Row {
    encoder: String,
    seed: u64,
    linear_top1: f64,
    linear_train_top1: f64,
    knn_top1: f64,
}

pub fn run(args: &ProbeArgs) -> anyhow::Result<ExitCode> {
    // Checked before the model loads: an empty split would crash the probe or score 0%.
    for (flag, limit) in [("--train-limit", args.train_limit), ("--val-limit", args.val_limit)] {
        if limit == Some(0) {
            bail!("{flag} must be at least 1 (leave it out to use the whole split)");
        }
    }
    let loaded = model_io::load(&args.checkpoint)?;
    let data = args.data.clone().unwrap_or_else(|| loaded.config.data.path.clone());
    let manifest = Manifest::load(&data.join(MANIFEST_NAME))
        .with_context(|| format!("{}: not a folder written by prep", data.display()))?;
    if manifest.classes.is_empty() {
        bail!(
            "{}: the images have no labels (prepared from a plain folder), so there is nothing to probe",
            data.display()
        );
    }
    eprintln!(
        "probing {} (step {}) on {} ({}: {} / {}: {}, {:?} features)",
        loaded.checkpoint.display(),
        loaded.step,
        data.display(),
        args.train_split,
        args.train_limit.map_or("all".into(), |n| n.to_string()),
        args.val_split,
        args.val_limit.map_or("all".into(), |n| n.to_string()),
        args.pooling
    );
    let mut rows = vec![probe_one(&loaded.model, "pre-trained", loaded.config.train.seed, &data, args)?];
    if let Some(seed) = args.random_seed {
        let random = Cae::new(loaded.model.config.clone(), seed);
        rows.push(probe_one(&random, "random init", seed, &data, args)?);
    }
    println!("{:<12} {:>6} {:>13} {:>13} {:>12}", "encoder", "seed", "linear top-1", "(train)", "k-NN top-1");
    for r in &rows {
        println!(
            "{:<12} {:>6} {:>12.2}% {:>12.2}% {:>11.2}%",
            r.encoder,
            r.seed,
            100.0 * r.linear_top1,
            100.0 * r.linear_train_top1,
            100.0 * r.knn_top1
        );
    }
    let out = loaded.checkpoint.join("probe.json");
    std::fs::write(&out, serde_json::to_string_pretty(&rows)? + "\n")
        .with_context(|| format!("{}: cannot write", out.display()))?;
    println!("results: {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn probe_one(model: &Cae, name: &str, seed: u64, data: &Path, args: &ProbeArgs) -> anyhow::Result<Row> {
    let open = |split: &str| {
        Dataset::from_manifest(data, split).with_context(|| format!("{}: cannot open split {split:?}", data.display()))
    };
    eprintln!("{name}: encoding features");
    let train = extract_features(model, open(&args.train_split)?, args.pooling, args.train_limit, args.progress)?;
    let val = extract_features(model, open(&args.val_split)?, args.pooling, args.val_limit, args.progress)?;
    let linear = linear_probe(&train, &val, &LinearProbeConfig::default());
    let knn = knn_top1(&train, &val, KNN_K, KNN_TEMPERATURE);
    Ok(Row {
        encoder: name.into(),
        seed,
        linear_top1: linear.top1,
        linear_train_top1: linear.train_top1,
        knn_top1: knn,
    })
}
