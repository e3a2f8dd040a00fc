//! Training checkpoints: one folder per saved step, `checkpoints/step-00001200/` holding
//! `model.safetensors` (the weights, official names), `optimizer.safetensors` (AdamW moments `m.*`,
//! `v.*`) and `state.json` (step, data position, seed, the whole config).
//!
//! A checkpoint is written into `step-….partial/`, each file synced, then the folder is renamed: a
//! folder without the suffix is always complete, so a crash or a full disk mid-write leaves the
//! earlier checkpoints as they were. Only after the rename are checkpoints beyond `keep_last`
//! deleted. There is no random-generator state to save: masks, drop path and augmentation are
//! functions of (seed, step or micro-batch, record), which is what makes resumption exact.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use autograd::ParamStore;

use crate::checkpoint::{load_weights, save_weights, LoadScope};
use crate::optim::AdamW;

/// Version of the `state.json` layout.
pub const STATE_FORMAT: u32 = 1;
/// Sub-folder of the run folder that holds the checkpoints.
pub const CHECKPOINTS: &str = "checkpoints";
const PARTIAL: &str = ".partial";

/// Where training stands: enough to continue as if never stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub format: u32,
    /// Optimiser steps taken.
    pub step: u64,
    /// Micro-batches consumed (masks and drop path are seeded by it).
    pub micro_step: u64,
    /// The data position of the next micro-batch: epoch and batch within it.
    pub epoch: u64,
    pub batch: usize,
    pub seed: u64,
    pub images_seen: u64,
    /// Seconds of training so far (for throughput over resumed runs).
    pub elapsed_s: f64,
    /// Loss of the last step.
    pub loss: f64,
    /// The run's config as TOML.
    pub config: String,
}

/// The folder name of the checkpoint at `step`.
pub fn checkpoint_name(step: u64) -> String {
    format!("step-{step:08}")
}

/// Complete checkpoints under `run_dir`, oldest first.
pub fn list_checkpoints(run_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = run_dir.join(CHECKPOINTS);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("{}: cannot list", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Some(step) = name.strip_prefix("step-").and_then(|s| s.parse::<u64>().ok()) {
            found.push((step, path));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// The newest complete checkpoint under `run_dir`, if any.
pub fn latest_checkpoint(run_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    Ok(list_checkpoints(run_dir)?.pop())
}

/// Accepts either a checkpoint folder or a run folder (then its newest checkpoint).
pub fn resolve_checkpoint(path: &Path) -> anyhow::Result<PathBuf> {
    if path.join("state.json").is_file() {
        return Ok(path.to_path_buf());
    }
    match latest_checkpoint(path)? {
        Some(p) => Ok(p),
        None => {
            bail!("{}: neither a checkpoint folder (with state.json) nor a run folder with checkpoints", path.display())
        }
    }
}

/// Writes a complete checkpoint for `state`, then deletes all but the newest `keep_last`.
pub fn save_checkpoint(
    run_dir: &Path,
    state: &TrainState,
    params: &ParamStore,
    opt: &AdamW,
    keep_last: usize,
) -> anyhow::Result<PathBuf> {
    let root = run_dir.join(CHECKPOINTS);
    let name = checkpoint_name(state.step);
    let (partial, done) = (root.join(format!("{name}{PARTIAL}")), root.join(&name));
    let written = write_files(&partial, state, params, opt);
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(
            e.context(format!("writing checkpoint {} failed; earlier checkpoints are untouched", done.display()))
        );
    }
    if done.exists() {
        std::fs::remove_dir_all(&done).with_context(|| format!("{}: cannot replace", done.display()))?;
    }
    std::fs::rename(&partial, &done).with_context(|| format!("{}: cannot rename into place", partial.display()))?;
    sync_dir(&root);
    let all = list_checkpoints(run_dir)?;
    for old in &all[..all.len().saturating_sub(keep_last)] {
        std::fs::remove_dir_all(old).with_context(|| format!("{}: cannot delete old checkpoint", old.display()))?;
    }
    Ok(done)
}

fn write_files(dir: &Path, state: &TrainState, params: &ParamStore, opt: &AdamW) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?; // left over from a crash
    }
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    save_weights(params, &dir.join("model.safetensors"))?;
    save_weights(&opt.state(params), &dir.join("optimizer.safetensors"))?;
    let mut f = File::create(dir.join("state.json"))?;
    f.write_all((serde_json::to_string_pretty(state)? + "\n").as_bytes())?;
    for file in ["model.safetensors", "optimizer.safetensors", "state.json"] {
        File::open(dir.join(file))?.sync_all().with_context(|| format!("{}: cannot sync", dir.join(file).display()))?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) {
    // Makes the rename durable; not every filesystem allows opening a folder, so failures are ignored.
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Reads a checkpoint's `state.json`.
pub fn read_state(checkpoint: &Path) -> anyhow::Result<TrainState> {
    let path = checkpoint.join("state.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let state: TrainState =
        serde_json::from_str(&text).with_context(|| format!("{}: not a training state", path.display()))?;
    if state.format != STATE_FORMAT {
        bail!("{}: state format {} (this build reads {STATE_FORMAT})", path.display(), state.format);
    }
    Ok(state)
}

/// Loads a checkpoint's weights and optimiser moments into `params` and `opt`. Nothing changes
/// unless both files match the model (names and shapes); the error lists every mismatch.
pub fn load_checkpoint(checkpoint: &Path, params: &ParamStore, opt: &mut AdamW) -> anyhow::Result<TrainState> {
    let state = read_state(checkpoint)?;
    let moments = opt.state(params);
    load_weights(&moments, &checkpoint.join("optimizer.safetensors"), LoadScope::Full)
        .with_context(|| format!("{}: optimiser state does not fit this model", checkpoint.display()))?;
    load_weights(params, &checkpoint.join("model.safetensors"), LoadScope::Full)
        .with_context(|| format!("{}: weights do not fit this model", checkpoint.display()))?;
    opt.restore(&moments, state.step);
    Ok(state)
}
