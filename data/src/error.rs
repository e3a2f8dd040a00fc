//! Errors of the shard format: every one names the file, and the record where there is one.

use std::path::PathBuf;

/// What went wrong opening, reading or writing a shard.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a shard (magic {found:02x?}, expected {expected:02x?})")]
    BadMagic { path: PathBuf, found: Vec<u8>, expected: Vec<u8> },
    #[error("{path}: shard format version {found}, this build reads version {supported}")]
    Version { path: PathBuf, found: u32, supported: u32 },
    #[error("{path}: header checksum mismatch: the header is damaged")]
    HeaderChecksum { path: PathBuf },
    #[error("{path}: bad header: {problem}")]
    BadHeader { path: PathBuf, problem: String },
    #[error("{path}: shard is cut short: {found} bytes, the header says {expected}")]
    Truncated { path: PathBuf, expected: u64, found: u64 },
    #[error("{path}: {found} bytes, the header says {expected}: trailing bytes after the payload")]
    TooLong { path: PathBuf, expected: u64, found: u64 },
    #[error("{path}: index checksum mismatch: the index is damaged")]
    IndexChecksum { path: PathBuf },
    #[error("{path}: record {record}: {problem}")]
    BadRecord { path: PathBuf, record: u64, problem: String },
    #[error("{path}: record {record}: checksum mismatch: the payload is damaged")]
    RecordChecksum { path: PathBuf, record: u64 },
    #[error("{path}: record {record} out of range: the shard holds {count} records")]
    OutOfRange { path: PathBuf, record: u64, count: u64 },
}

impl ShardError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ShardError::Io { path: path.into(), source }
    }
}

/// What went wrong producing a batch: a damaged shard or a record that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Shard(#[from] ShardError),
    #[error("{path}: record {record}: {source}")]
    Decode { path: PathBuf, record: u64, source: crate::image_decode::DecodeError },
}
