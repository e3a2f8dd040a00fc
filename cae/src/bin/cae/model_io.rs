//! Rebuilding a trained model from a run or checkpoint folder (its `state.json` holds the config).

use std::path::{Path, PathBuf};

use anyhow::Context;
use cae::train::state::{read_state, resolve_checkpoint};
use cae::train::RunConfig;
use cae::{load_weights, Cae, LoadScope};

/// A model loaded from a checkpoint, with the run config it was trained with.
pub struct Loaded {
    pub model: Cae,
    pub config: RunConfig,
    pub checkpoint: PathBuf,
    pub step: u64,
}

/// Loads the newest checkpoint of a run folder, or a given checkpoint folder.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let checkpoint = resolve_checkpoint(path)?;
    let state = read_state(&checkpoint)?;
    let config = RunConfig::parse(&state.config, &[])
        .with_context(|| format!("{}: the stored config is unreadable", checkpoint.display()))?;
    let model = Cae::new(config.model_config()?, config.train.seed);
    load_weights(&model.params, &checkpoint.join("model.safetensors"), LoadScope::Full)
        .with_context(|| format!("{}: cannot load the weights", checkpoint.display()))?;
    Ok(Loaded { model, config, checkpoint, step: state.step })
}
