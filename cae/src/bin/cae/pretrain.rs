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
            // The same overrides again: they may move out_dir or change the schedule.
            let sets: String = set.iter().map(|s| format!(" --set {}", shell_word(s))).collect();
            println!(
                "interrupted; continue with: cae pretrain --config {}{sets} --resume",
                shell_word(&config.display().to_string())
            );
            ExitCode::from(INTERRUPTED)
        }
    })
}

/// `word` as one shell word: as it is when it holds only characters no shell treats specially,
/// else in single quotes (a quote inside written as `'\''`).
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-/=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn overrides_are_quoted_only_when_a_shell_would_split_them() {
        assert_eq!(shell_word("train.out_dir=runs/int"), "train.out_dir=runs/int");
        assert_eq!(shell_word("train.out_dir=/tmp/run 2"), "'train.out_dir=/tmp/run 2'");
        assert_eq!(shell_word("model.mask=\"random\""), "'model.mask=\"random\"'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
