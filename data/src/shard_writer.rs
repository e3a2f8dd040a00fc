//! Writing a shard: records are gathered in memory, then header, index and payload are written to a
//! temporary name, synced, and renamed into place, so a shard under its final name is always whole.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::ShardError;
use crate::format::{Encoding, Header, IndexEntry, ENTRY_LEN};

/// Builds one shard; nothing appears under the final name until [`ShardWriter::finish`].
pub struct ShardWriter {
    path: PathBuf,
    encoding: Encoding,
    side: u32,
    quality: u32,
    entries: Vec<IndexEntry>,
    payload: Vec<u8>,
}

/// The temporary name a shard is written under before it is renamed to `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

impl ShardWriter {
    /// Starts a shard that will be written to `path`. `side` and `quality` go into the header.
    pub fn new(path: impl Into<PathBuf>, encoding: Encoding, side: u32, quality: u32) -> Self {
        ShardWriter { path: path.into(), encoding, side, quality, entries: Vec::new(), payload: Vec::new() }
    }

    /// Records pushed so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True before the first record.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends one record. Raw records must be `side × side × 3` bytes (a caller bug otherwise).
    pub fn push(&mut self, bytes: &[u8], label: u32, orig_width: u32, orig_height: u32) {
        if self.encoding == Encoding::Raw {
            let want = self.side as usize * self.side as usize * 3;
            assert_eq!(bytes.len(), want, "raw record must be side*side*3 = {want} bytes");
        }
        let len = u32::try_from(bytes.len()).expect("a record must be under 4 GiB");
        self.entries.push(IndexEntry {
            offset: self.payload.len() as u64,
            len,
            label,
            orig_width,
            orig_height,
            crc: crc32fast::hash(bytes),
        });
        self.payload.extend_from_slice(bytes);
    }

    /// Writes the shard under a temporary name, syncs it, and renames it to its final path.
    pub fn finish(self) -> Result<PathBuf, ShardError> {
        let mut index = Vec::with_capacity(self.entries.len() * ENTRY_LEN);
        for e in &self.entries {
            index.extend_from_slice(&e.to_bytes());
        }
        let header = Header {
            encoding: self.encoding,
            side: self.side,
            quality: self.quality,
            record_count: self.entries.len() as u64,
            payload_len: self.payload.len() as u64,
            index_crc: crc32fast::hash(&index),
        };
        let tmp = temp_path(&self.path);
        let write = || -> std::io::Result<()> {
            let file = File::create(&tmp)?;
            let mut w = BufWriter::new(file);
            w.write_all(&header.to_bytes())?;
            w.write_all(&index)?;
            w.write_all(&self.payload)?;
            // Sync before the rename: a crash must never leave a final name over partial data.
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            Ok(())
        };
        write().map_err(|e| ShardError::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| ShardError::io(&self.path, e))?;
        Ok(self.path)
    }
}
