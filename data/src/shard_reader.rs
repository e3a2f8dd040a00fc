//! Reading a shard through a memory map. Opening checks everything that is cheap (header, index
//! checksum, file length, every entry's bounds); reading a record checks that record's CRC32.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::ShardError;
use crate::format::{Encoding, Header, HeaderProblem, IndexEntry, ENTRY_LEN, HEADER_LEN};

/// An open, validated shard.
pub struct Shard {
    path: PathBuf,
    map: Mmap,
    header: Header,
    entries: Vec<IndexEntry>,
}

/// One record, borrowed from the memory map.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub bytes: &'a [u8],
    pub label: u32,
    pub orig_width: u32,
    pub orig_height: u32,
}

impl Shard {
    /// Maps and validates the shard at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ShardError> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| ShardError::io(&path, e))?;
        // SAFETY: shards are immutable once renamed into place; the writer never modifies a final file.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| ShardError::io(&path, e))?;
        let found = map.len() as u64;
        if map.len() < HEADER_LEN {
            if map.len() >= 8 && map[..8] != crate::format::MAGIC {
                return Err(bad_magic(&path, &map[..8]));
            }
            return Err(ShardError::Truncated { path, expected: HEADER_LEN as u64, found });
        }
        let header = Header::from_bytes(map[..HEADER_LEN].try_into().expect("header length")).map_err(|p| match p {
            HeaderProblem::Magic(m) => bad_magic(&path, &m),
            HeaderProblem::Version(v) => {
                ShardError::Version { path: path.clone(), found: v, supported: crate::format::VERSION }
            }
            HeaderProblem::Checksum => ShardError::HeaderChecksum { path: path.clone() },
            HeaderProblem::Field(problem) => ShardError::BadHeader { path: path.clone(), problem },
        })?;
        let expected = header
            .record_count
            .checked_mul(ENTRY_LEN as u64)
            .and_then(|i| i.checked_add(HEADER_LEN as u64))
            .and_then(|p| p.checked_add(header.payload_len))
            .ok_or_else(|| ShardError::BadHeader { path: path.clone(), problem: "sizes overflow".into() })?;
        if found < expected {
            return Err(ShardError::Truncated { path, expected, found });
        }
        if found > expected {
            return Err(ShardError::TooLong { path, expected, found });
        }
        let index = &map[HEADER_LEN..header.payload_offset() as usize];
        if crc32fast::hash(index) != header.index_crc {
            return Err(ShardError::IndexChecksum { path });
        }
        let entries: Vec<IndexEntry> = index.chunks_exact(ENTRY_LEN).map(IndexEntry::from_bytes).collect();
        for (i, e) in entries.iter().enumerate() {
            check_entry(&header, e).map_err(|problem| ShardError::BadRecord {
                path: path.clone(),
                record: i as u64,
                problem,
            })?;
        }
        Ok(Shard { path, map, header, entries })
    }

    /// The file this shard was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shard's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True for a shard without records.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The index entry of record `i` (label and original size, without touching the payload).
    pub fn entry(&self, i: usize) -> Result<&IndexEntry, ShardError> {
        self.entries.get(i).ok_or_else(|| ShardError::OutOfRange {
            path: self.path.clone(),
            record: i as u64,
            count: self.entries.len() as u64,
        })
    }

    /// Record `i`, after checking its CRC32.
    pub fn record(&self, i: usize) -> Result<Record<'_>, ShardError> {
        let e = *self.entry(i)?;
        let start = (self.header.payload_offset() + e.offset) as usize;
        let bytes = &self.map[start..start + e.len as usize];
        if crc32fast::hash(bytes) != e.crc {
            return Err(ShardError::RecordChecksum { path: self.path.clone(), record: i as u64 });
        }
        Ok(Record { bytes, label: e.label, orig_width: e.orig_width, orig_height: e.orig_height })
    }

    /// Reads every record once, checking all checksums (what `prep --verify` and resume rely on).
    pub fn verify_all(&self) -> Result<(), ShardError> {
        (0..self.len()).try_for_each(|i| self.record(i).map(|_| ()))
    }
}

fn bad_magic(path: &Path, found: &[u8]) -> ShardError {
    ShardError::BadMagic { path: path.to_path_buf(), found: found.to_vec(), expected: crate::format::MAGIC.to_vec() }
}

/// An entry is valid when it lies inside the payload and, for raw shards, has the fixed size.
fn check_entry(header: &Header, e: &IndexEntry) -> Result<(), String> {
    let end = e.offset.checked_add(e.len as u64).ok_or("offset overflows")?;
    if end > header.payload_len {
        return Err(format!(
            "bytes {}..{end} lie past the end of the payload ({} bytes)",
            e.offset, header.payload_len
        ));
    }
    if header.encoding == Encoding::Raw {
        let want = header.side as u64 * header.side as u64 * 3;
        if e.len as u64 != want {
            return Err(format!("raw record of {} bytes, expected {want}", e.len));
        }
    }
    Ok(())
}
