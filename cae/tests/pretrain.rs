//! The trainer end to end on a tiny prepared dataset: exact resumption, Ctrl-C, a diverging run,
//! and the refusals that protect earlier checkpoints.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cae::train::log::read_log;
use cae::train::state::{list_checkpoints, read_state};
use cae::train::{pretrain, Outcome, PretrainOptions, RunConfig};
use data::manifest::PrepSettings;
use data::prep::{run_prep, Source};
use data::Encoding;

const SIDE: usize = 16;
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

/// Prepared shards of the tiny dataset under `dir/shards`.
fn prepare(dir: &Path) -> PathBuf {
    let (images, labels) = write_idx(dir);
    let out = dir.join("shards");
    let settings = PrepSettings {
        source_kind: "idx".into(),
        source: images.display().to_string(),
        encoding: Encoding::Raw,
        side: SIDE as u32,
        quality: 0,
        shard_size: 20,
        val_fraction: 0.0,
        seed: 0,
    };
    run_prep(&Source::Idx { images, labels, val: None }, &out, &settings, false).unwrap();
    out
}

fn config(data: &Path, out: &Path, extra: &[&str]) -> RunConfig {
    let text = format!(
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
    );
    let overrides: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    RunConfig::parse(&text, &overrides).unwrap()
}

fn options(resume: bool, stop: bool) -> PretrainOptions {
    PretrainOptions { resume, progress: false, stop: Arc::new(AtomicBool::new(stop)) }
}

fn final_weights(out: &Path) -> Vec<u8> {
    let last = list_checkpoints(out).unwrap().pop().expect("a checkpoint");
    std::fs::read(last.join("model.safetensors")).unwrap()
}

#[test]
fn a_resumed_run_matches_an_uninterrupted_one_bitwise() {
    let dir = tempfile::tempdir().unwrap();
    let data = prepare(dir.path());
    // 48 images in batches of 6, 2 per step: 4 steps per epoch, 8 in all, crossing an epoch.
    let (whole, split) = (dir.path().join("whole"), dir.path().join("split"));
    let s = pretrain(&config(&data, &whole, &[]), &options(false, false)).unwrap();
    assert_eq!((s.outcome, s.step), (Outcome::Finished, 8));

    let first = pretrain(&config(&data, &split, &["train.max_steps=5"]), &options(false, false)).unwrap();
    assert_eq!(first.step, 5);
    let state = read_state(&first.checkpoint).unwrap();
    assert_eq!((state.epoch, state.batch, state.micro_step), (1, 2, 10), "data position after 5 steps");
    let second = pretrain(&config(&data, &split, &[]), &options(true, false)).unwrap();
    assert_eq!(second.step, 8);

    let (a, b) = (read_log(&whole.join("log.jsonl")).unwrap(), read_log(&split.join("log.jsonl")).unwrap());
    assert_eq!(a.len(), 8);
    let losses = |log: &[cae::train::log::LogEntry]| log.iter().map(|e| (e.step, e.loss, e.lr)).collect::<Vec<_>>();
    assert_eq!(losses(&a), losses(&b), "same losses and rates, step for step");
    assert!(a.iter().all(|e| e.loss.is_finite()));
    assert_eq!(final_weights(&whole), final_weights(&split), "bitwise-equal final weights");
    assert_eq!(list_checkpoints(&whole).unwrap().len(), 2, "keep_last = 2");
    assert!(whole.join("loss.png").is_file());
}

#[test]
fn ctrl_c_writes_a_checkpoint_that_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = prepare(dir.path());
    let out = dir.path().join("run");
    let s = pretrain(&config(&data, &out, &[]), &options(false, true)).unwrap();
    assert_eq!((s.outcome, s.step), (Outcome::Interrupted, 1), "stops after the step in progress");
    assert_eq!(read_state(&s.checkpoint).unwrap().step, 1);
    let s = pretrain(&config(&data, &out, &[]), &options(true, false)).unwrap();
    assert_eq!((s.outcome, s.step), (Outcome::Finished, 8));
}

#[test]
fn a_diverging_run_stops_with_the_last_good_checkpoint_intact() {
    let dir = tempfile::tempdir().unwrap();
    let data = prepare(dir.path());
    let out = dir.path().join("run");
    // An absurd rate with no warmup: step 1 sets weights to ~1e30, and step 2's forward overflows.
    let cfg = config(&data, &out, &["optim.lr=1e30", "optim.warmup_epochs=0", "train.checkpoint_every=1"]);
    let err = format!("{:#}", pretrain(&cfg, &options(false, false)).unwrap_err());
    assert!(err.contains("became") && err.contains("step 2"), "{err}");
    let kept = list_checkpoints(&out).unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(err.contains(&kept[0].display().to_string()), "the message names the good checkpoint: {err}");
    assert_eq!(read_state(&kept[0]).unwrap().step, 1);
}

#[test]
fn refusals_name_the_problem_and_keep_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let data = prepare(dir.path());
    let out = dir.path().join("run");
    pretrain(&config(&data, &out, &["train.max_steps=3"]), &options(false, false)).unwrap();
    let before = final_weights(&out);

    let err = format!("{:#}", pretrain(&config(&data, &out, &[]), &options(false, false)).unwrap_err());
    assert!(err.contains("--resume"), "a fresh run refuses a folder with checkpoints: {err}");
    let err = format!("{:#}", pretrain(&config(&data, &out, &["model.dim=64"]), &options(true, false)).unwrap_err());
    assert!(err.contains("another architecture"), "{err}");
    let missing = dir.path().join("nowhere");
    let err =
        format!("{:#}", pretrain(&config(&missing, &dir.path().join("r2"), &[]), &options(false, false)).unwrap_err());
    assert!(err.contains("nowhere"), "{err}");
    let err =
        format!("{:#}", pretrain(&config(&data, &dir.path().join("r3"), &[]), &options(true, false)).unwrap_err());
    assert!(err.contains("no checkpoint"), "{err}");

    // A checkpoint that cannot be written (here: its temporary folder's name is taken by a file we
    // cannot remove as a folder) fails the run and leaves the earlier checkpoint as it was.
    std::fs::write(out.join("checkpoints").join("step-00000006.partial"), b"in the way").unwrap();
    let err = format!("{:#}", pretrain(&config(&data, &out, &[]), &options(true, false)).unwrap_err());
    assert!(err.contains("step-00000006") && err.contains("untouched"), "{err}");
    assert_eq!(final_weights(&out), before);
    assert_eq!(read_state(&list_checkpoints(&out).unwrap()[0]).unwrap().step, 3);
}
