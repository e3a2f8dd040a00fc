//! `cae pretrain` with `train.device = "gpu"`, on the PTX interpreter standing in for a GPU: the
//! same losses as the CPU run of the same config, checkpoints that resume on the device, bf16
//! products (mixed precision) that stay close to f32, and configs that cannot run refused by name.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cae::train::log::read_log;
use cae::train::state::{list_checkpoints, read_state};
use cae::train::{pretrain, PretrainOptions, RunConfig};
use tensor::gpu::{select, GpuBackend};

#[path = "common/tiny_data.rs"]
mod tiny_data;
use tiny_data::{config_text, prepare};

/// The shared tiny config made smaller still: the interpreter runs every kernel thread by thread.
fn config(data: &Path, out: &Path, extra: &[&str]) -> RunConfig {
    let small =
        ["model.dim=16", "data.batch_size=4", "data.workers=1", "train.max_steps=2", "train.checkpoint_every=1"];
    let overrides: Vec<String> = small.iter().chain(extra).map(|s| s.to_string()).collect();
    RunConfig::parse(&config_text(data, out), &overrides).unwrap()
}

fn run(cfg: &RunConfig, resume: bool) -> cae::train::Summary {
    let opts = PretrainOptions { resume, progress: false, stop: Arc::new(AtomicBool::new(false)) };
    pretrain(cfg, &opts).unwrap()
}

fn losses(out: &Path) -> Vec<f64> {
    read_log(&out.join("log.jsonl")).unwrap().iter().map(|e| e.loss).collect()
}

#[test]
fn pretraining_on_the_gpu_device_follows_the_cpu_and_resumes() {
    select(GpuBackend::Interpreter).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = prepare(dir.path());
    let (cpu, gpu, half) = (dir.path().join("cpu"), dir.path().join("gpu"), dir.path().join("bf16"));
    run(&config(&data, &cpu, &["train.max_steps=3"]), false);
    let first = run(&config(&data, &gpu, &["train.device=\"gpu\""]), false);
    assert_eq!(first.step, 2);
    // Resumed on the device from its own checkpoint (written from device memory).
    assert_eq!(read_state(&first.checkpoint).unwrap().step, 2);
    let resumed = run(&config(&data, &gpu, &["train.device=\"gpu\"", "train.max_steps=3"]), true);
    assert_eq!(resumed.step, 3);
    let (c, g) = (losses(&cpu), losses(&gpu));
    assert_eq!(g.len(), 3);
    for (step, (c, g)) in c.iter().zip(&g).enumerate() {
        // f32 on both devices, approximate exp/log on the GPU side: a few parts in 1e6 per op.
        assert!((c - g).abs() <= 1e-4 * c.abs(), "step {}: GPU loss {g} vs CPU {c}", step + 1);
    }
    assert_eq!(list_checkpoints(&gpu).unwrap().len(), 2, "keep_last = 2");

    run(&config(&data, &half, &["train.device=\"gpu\"", "train.precision=\"bf16\""]), false);
    let h = losses(&half);
    assert_ne!(h[..], g[..2], "bf16 products must change the losses (else the switch did nothing)");
    for (step, (c, h)) in c.iter().zip(h).enumerate() {
        // bf16 operands carry 8 bits of mantissa; the loss is an average over thousands of terms.
        assert!((c - h).abs() <= 2e-2 * c.abs(), "step {}: bf16 loss {h} vs f32 {c}", step + 1);
    }
}

#[test]
fn device_and_precision_mistakes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let bad = |extra: &[&str]| {
        let overrides: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        format!("{:#}", RunConfig::parse(&config_text(dir.path(), &out), &overrides).unwrap_err())
    };
    assert!(bad(&["train.device=\"cuda\""]).contains("train.device must be"));
    assert!(bad(&["train.device=\"gpu:x\""]).contains("\"gpu:x\""));
    assert!(bad(&["train.precision=\"bf16\""]).contains("needs train.device"));
    assert!(bad(&["train.precision=\"fp8\""]).contains("train.precision must be"));
}
