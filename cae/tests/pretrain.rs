//! The trainer end to end on a tiny prepared dataset: exact resumption, Ctrl-C, a diverging run,
//! and the refusals that protect earlier checkpoints.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cae::train::log::read_log;
use cae::train::state::{list_checkpoints, read_state};
use cae::train::{pretrain, Outcome, PretrainOptions, RunConfig};

#[path = "common/tiny_data.rs"]
mod tiny_data;
use tiny_data::{config_text, prepare};

fn config(data: &Path, out: &Path, extra: &[&str]) -> RunConfig {
    let text = config_text(data, out);
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

#[test]
fn a_shard_of_another_format_version_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = prepare(dir.path());
    let shard = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "shard"))
        .min()
        .expect("a shard file");
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes()); // the header's format version
    std::fs::write(&shard, bytes).unwrap();
    let err =
        format!("{:#}", pretrain(&config(&data, &dir.path().join("run"), &[]), &options(false, false)).unwrap_err());
    let name = shard.file_name().unwrap().to_string_lossy().into_owned();
    assert!(err.contains(&name) && err.contains("version"), "{err}");
}
