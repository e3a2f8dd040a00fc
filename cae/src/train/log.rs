//! The training log: one JSON object per optimiser step in `log.jsonl`, and `loss.png`, a picture of
//! the loss curve redrawn from it.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What is recorded for each optimiser step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub step: u64,
    pub epoch: u64,
    pub lr: f64,
    pub loss: f64,
    /// The target loss (MSE on pixels or cross-entropy on tokens).
    pub main: f64,
    /// The alignment MSE (before its weight).
    pub align: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    pub images_per_s: f64,
}

/// Appends entries to `log.jsonl`, keeping them in memory too for the loss picture (so a long run
/// never re-reads its log).
pub struct Log {
    path: PathBuf,
    file: File,
    entries: Vec<LogEntry>,
}

impl Log {
    /// Opens the log of `run_dir`. Entries after `keep_through` (a resumed run's checkpoint step) are
    /// dropped, so the log reads as if the run had never stopped; a fresh run passes 0.
    pub fn open(run_dir: &Path, keep_through: u64) -> anyhow::Result<Log> {
        let path = run_dir.join("log.jsonl");
        let kept: Vec<LogEntry> = read_log(&path)?.into_iter().filter(|e| e.step <= keep_through).collect();
        let mut file = File::create(&path).with_context(|| format!("{}: cannot write", path.display()))?;
        for e in &kept {
            writeln!(file, "{}", serde_json::to_string(e)?)?;
        }
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(Log { path, file, entries: kept })
    }

    /// Appends one entry.
    pub fn push(&mut self, entry: &LogEntry) -> anyhow::Result<()> {
        writeln!(self.file, "{}", serde_json::to_string(entry)?).with_context(|| format!("{}", self.path.display()))?;
        self.entries.push(entry.clone());
        Ok(())
    }

    /// Every entry of the run so far.
    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }
}

/// Every entry of a log file (none if it does not exist).
pub fn read_log(path: &Path) -> anyhow::Result<Vec<LogEntry>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let reader = BufReader::new(File::open(path).with_context(|| format!("{}: cannot read", path.display()))?);
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        // A line cut short by a crash is the last one; stop there rather than fail.
        match serde_json::from_str(&line) {
            Ok(e) => out.push(e),
            Err(_) if i > 0 => break,
            Err(e) => return Err(e).with_context(|| format!("{}: line {} is not a log entry", path.display(), i + 1)),
        }
    }
    Ok(out)
}
