//! A split's shards seen as one array of records: global record `i` lives in the shard whose
//! cumulative range holds it.

use std::path::Path;

use crate::error::ShardError;
use crate::format::Encoding;
use crate::manifest::Manifest;
use crate::shard_reader::{Record, Shard};

/// The open, validated shards of one split.
pub struct Dataset {
    shards: Vec<Shard>,
    /// `starts[s]` is the global number of shard `s`'s first record; one extra entry holds the total.
    starts: Vec<u64>,
}

impl Dataset {
    /// Opens (and validates) the shards at `paths`, in order. All must share encoding and side.
    pub fn open<P: AsRef<Path>>(paths: &[P]) -> Result<Self, ShardError> {
        let shards = paths.iter().map(Shard::open).collect::<Result<Vec<_>, _>>()?;
        if let Some(first) = shards.first() {
            let (enc, side) = (first.header().encoding, first.header().side);
            for s in &shards[1..] {
                if (s.header().encoding, s.header().side) != (enc, side) {
                    return Err(ShardError::BadHeader {
                        path: s.path().to_path_buf(),
                        problem: format!(
                            "{:?} side {} differs from {} ({enc:?} side {side})",
                            s.header().encoding,
                            s.header().side,
                            first.path().display()
                        ),
                    });
                }
            }
        }
        let mut starts = vec![0u64];
        for s in &shards {
            starts.push(starts.last().expect("starts is never empty") + s.len() as u64);
        }
        Ok(Dataset { shards, starts })
    }

    /// Opens split `split` ("train", "val") of the prepared folder `dir`.
    pub fn from_manifest(dir: &Path, split: &str) -> anyhow::Result<Self> {
        let manifest = Manifest::load(&dir.join(crate::manifest::MANIFEST_NAME))?;
        let paths = manifest.shard_paths(dir, split);
        anyhow::ensure!(!paths.is_empty(), "{}: no split named {split:?}", dir.display());
        Ok(Dataset::open(&paths)?)
    }

    /// Records in all shards.
    pub fn len(&self) -> u64 {
        *self.starts.last().expect("starts is never empty")
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Encoding and side shared by the shards (raw 256 when there are none).
    pub fn geometry(&self) -> (Encoding, u32) {
        self.shards.first().map(|s| (s.header().encoding, s.header().side)).unwrap_or((Encoding::Raw, 256))
    }

    /// The shard holding global record `i`, and the record's number inside it.
    pub fn locate(&self, i: u64) -> (&Shard, usize) {
        assert!(i < self.len(), "record {i} out of range ({} records)", self.len());
        let s = self.starts.partition_point(|&start| start <= i) - 1;
        (&self.shards[s], (i - self.starts[s]) as usize)
    }

    /// Global record `i`, its checksum verified.
    pub fn record(&self, i: u64) -> Result<Record<'_>, ShardError> {
        let (shard, local) = self.locate(i);
        shard.record(local)
    }
}
