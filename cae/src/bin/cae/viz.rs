//! `cae viz`: the pictures of a checkpoint, on a seeded random choice of a split's images.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use cae::input::batch_images;
use cae::masking::{batch_masks, MaskSpec};
use cae::viz::{alignment_png, attention_png, reconstruction_png};
use cae::Target;
use data::{Dataset, Loader, LoaderConfig, Transform};

use crate::model_io;

pub fn run(
    checkpoint: &Path,
    data: Option<&Path>,
    split: &str,
    count: usize,
    out: Option<&Path>,
    seed: u64,
) -> anyhow::Result<ExitCode> {
    if count == 0 {
        bail!("--count must be at least 1");
    }
    let loaded = model_io::load(checkpoint)?;
    let c = &loaded.model.config;
    let data = data.map(Path::to_path_buf).unwrap_or_else(|| loaded.config.data.path.clone());
    let dataset =
        Dataset::from_manifest(&data, split).with_context(|| format!("{}: split {split:?}", data.display()))?;
    let side = c.image_size as u32;
    let config = LoaderConfig {
        transform: Transform::Eval { resize: side, crop: side },
        shuffle: true,
        drop_last: false,
        workers: 1,
        ..LoaderConfig::train(count, seed)
    };
    let loader = Loader::new(dataset, config);
    let batch = loader.epoch(0, 0).next().context("the split is empty")??;
    let images = batch_images(&batch, c.in_chans); // [B, C, S, S]
    let dir: PathBuf = out.map(Path::to_path_buf).unwrap_or_else(|| loaded.checkpoint.join("pictures"));
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut written = Vec::new();
    if c.target == Target::Pixels {
        let mask = batch_masks(
            &MaskSpec::new(c.grid(), c.grid(), c.num_masked),
            batch.len(),
            seed,
            loaded.config.model.mask == "block",
        );
        let path = dir.join("reconstruction.png");
        reconstruction_png(&loaded.model, &images, &mask, &path)?;
        written.push((path, "original | masked input | reconstruction | prediction alone"));
        let path = dir.join("alignment.png");
        alignment_png(&loaded.model, &images, &path)?;
        written.push((path, "original | every patch encoded, then decoded directly"));
    } else {
        eprintln!("reconstructions need the pixel target; this model predicts tokens");
    }
    let path = dir.join("attention.png");
    attention_png(&loaded.model, &images, &path)?;
    written.push((path, "image | cls attention averaged over heads | per head"));
    for (p, what) in &written {
        println!("{}  ({what})", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
