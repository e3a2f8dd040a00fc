//! A tiny labelled dataset for trainer and CLI tests: 16×16 grey images in three classes, written as
//! IDX files and prepared into shards with `prep`'s pipeline.

use std::path::{Path, PathBuf};

use data::manifest::PrepSettings;
use data::prep::{run_prep, Source};
use data::Encoding;

pub const SIDE: usize = 16;
const IMAGES: usize = 48;

/// An IDX file of `IMAGES` 16×16 images: smooth gradients whose direction depends on the label.
fn write_idx(dir: &Path) -> (PathBuf, PathBuf) {
    let mut images = vec![0, 0, 8, 3];
    for d in [IMAGES, SIDE, SIDE] {
        images.extend((d as u32).to_be_bytes());
    }
    let mut labels = vec![0, 0, 8, 1];
    labels.extend((IMAGES as u32).to_be_bytes());
    for i in 0..IMAGES {
        let label = (i % 3) as u8;
        labels.push(label);
        for y in 0..SIDE {
            for x in 0..SIDE {
                let v = match label {
                    0 => x * 16,
                    1 => y * 16,
                    _ => (x + y) * 8,
                };
                images.push((v + i) as u8);
            }
        }
    }
    let (ip, lp) = (dir.join("images.idx"), dir.join("labels.idx"));
    std::fs::write(&ip, images).unwrap();
    std::fs::write(&lp, labels).unwrap();
    (ip, lp)
}

/// Raw `SIDE`² shards of 20 records from `source` into `out`.
pub fn prep_into(source: Source, out: &Path) {
    let (kind, from) = match &source {
        Source::Idx { images, .. } => ("idx", images),
        Source::Plain { root } | Source::Folder { root } => ("plain", root),
    };
    let settings = PrepSettings {
        source_kind: kind.into(),
        source: from.display().to_string(),
        encoding: Encoding::Raw,
        side: SIDE as u32,
        quality: 0,
        shard_size: 20,
        val_fraction: 0.0,
        seed: 0,
    };
    run_prep(&source, out, &settings, false).unwrap();
}

/// Prepared shards of the tiny dataset under `dir/shards`.
pub fn prepare(dir: &Path) -> PathBuf {
    let (images, labels) = write_idx(dir);
    let out = dir.join("shards");
    prep_into(Source::Idx { images, labels, val: None }, &out);
    out
}

/// A run config for a tiny CAE on the prepared data: 8 optimiser steps over 2 epochs (48 images,
/// batches of 6, 2 micro-batches per step), drop path on, checkpoints every 3 steps.
pub fn config_text(data: &Path, out: &Path) -> String {
    format!(
        r#"
        [model]
        preset = "custom"
        image_size = {SIDE}
        patch_size = 4
        in_chans = 1
        dim = 32
        depth = 2
        heads = 2
        regressor_depth = 1
        decoder_depth = 1
        drop_path = 0.1
        num_masked = 8
        target = "pixels"
        [data]
        path = "{}"
        batch_size = 6
        augment = "rrc"
        workers = 2
        [optim]
        lr = 1e-3
        warmup_epochs = 0.5
        accum_steps = 2
        [train]
        epochs = 2
        seed = 7
        out_dir = "{}"
        checkpoint_every = 3
        keep_last = 2
        plot_every = 2
        "#,
        data.display(),
        out.display()
    )
}
