//! The manifest: one JSON file beside the shards listing them, the class names and the prep settings.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::format::Encoding;

/// File name of the manifest inside a prepared folder.
pub const MANIFEST_NAME: &str = "manifest.json";

/// Everything a loader needs to know about a prepared data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Shard format version the shards were written with.
    pub format_version: u32,
    /// `classes[label]` is the name of class `label`; empty for unlabelled sources.
    pub classes: Vec<String>,
    /// The training split, then the validation split if one was made.
    pub splits: Vec<Split>,
    /// How the shards were made.
    pub prep: PrepSettings,
}

/// One split (train or val): its shards in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub name: String,
    pub records: u64,
    pub shards: Vec<ShardInfo>,
}

/// One shard file, named relative to the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub file: String,
    pub records: u64,
    pub bytes: u64,
}

/// The prep settings: with the input, they determine the output byte for byte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepSettings {
    /// `folder` (class folders), `idx` or `plain`.
    pub source_kind: String,
    pub source: String,
    pub encoding: Encoding,
    /// Raw: side of the stored square. JPEG: largest side.
    pub side: u32,
    /// JPEG quality (0 for raw).
    pub quality: u32,
    /// Records per shard (the last shard of a split may hold fewer; skipped files make shards shorter).
    pub shard_size: usize,
    /// Fraction of each class held out for validation (class folders only).
    pub val_fraction: f64,
    /// Seed of the validation split and of the stored record order.
    pub seed: u64,
}

impl Manifest {
    /// Reads and parses a manifest file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: not a valid manifest: {e}", path.display()))
    }

    /// Writes the manifest atomically (temporary name, then rename).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)? + "\n";
        write_atomic(path, text.as_bytes())
    }

    /// The split named `name`, if any.
    pub fn split(&self, name: &str) -> Option<&Split> {
        self.splits.iter().find(|s| s.name == name)
    }

    /// Paths of a split's shards, given the folder holding the manifest.
    pub fn shard_paths(&self, dir: &Path, split: &str) -> Vec<PathBuf> {
        self.split(split).map(|s| s.shards.iter().map(|i| dir.join(&i.file)).collect()).unwrap_or_default()
    }
}

/// Writes `bytes` to `path` through a temporary name so readers never see a partial file.
/// The bytes are synced before the rename, so a crash cannot leave a short file under the final name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = crate::shard_writer::temp_path(path);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write().map_err(|e| anyhow::anyhow!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_through_json() {
        let m = Manifest {
            format_version: 1,
            classes: vec!["cat".into(), "dog".into()],
            splits: vec![Split {
                name: "train".into(),
                records: 3,
                shards: vec![ShardInfo { file: "train-00000.shard".into(), records: 3, bytes: 100 }],
            }],
            prep: PrepSettings {
                source_kind: "folder".into(),
                source: "/in".into(),
                encoding: Encoding::Raw,
                side: 256,
                quality: 0,
                shard_size: 1000,
                val_fraction: 0.1,
                seed: 0,
            },
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MANIFEST_NAME);
        m.save(&path).unwrap();
        assert_eq!(Manifest::load(&path).unwrap(), m);
        assert!(std::fs::read_to_string(&path).unwrap().contains("\"encoding\": \"raw\""));
        assert_eq!(m.shard_paths(dir.path(), "train"), vec![dir.path().join("train-00000.shard")]);
    }
}
