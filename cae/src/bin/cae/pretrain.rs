//! `cae pretrain`: runs the trainer, with Ctrl-C turned into a checkpoint and a clean exit.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cae::train::{pretrain, Outcome, PretrainOptions, RunConfig};

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

pub fn run(config: &Path, set: &[String], resume: bool, progress: bool) -> anyhow::Result<ExitCode> {
    let cfg = RunConfig::load(config, set)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond Ctrl-C: exiting without a checkpoint");
            std::process::exit(INTERRUPTED as i32);
        }
        eprintln!("\nCtrl-C: finishing this step and writing a checkpoint (press again to quit at once)");
    })?;
    let model = cfg.model_config()?;
    eprintln!(
        "pre-training {} ({} masked of {} patches, {:?} target) → {}",
        cfg.model.preset,
        model.num_masked,
        model.num_patches(),
        model.target,
        cfg.train.out_dir.display()
    );
    let summary = pretrain(&cfg, &PretrainOptions { resume, progress, stop })?;
    println!(
        "step {}: loss {:.4}, {:.0} images/s; checkpoint {}; log {}; loss curve {}",
        summary.step,
        summary.loss,
        summary.images_per_s,
        summary.checkpoint.display(),
        cfg.train.out_dir.join("log.jsonl").display(),
        cfg.train.out_dir.join("loss.png").display()
    );
    Ok(match summary.outcome {
        Outcome::Finished => ExitCode::SUCCESS,
        Outcome::Interrupted => {
            println!("interrupted; continue with: cae pretrain --config {} --resume", config.display());
            ExitCode::from(INTERRUPTED)
        }
    })
}
