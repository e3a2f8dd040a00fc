//! `data`: turns image collections into memory-mapped shards once, then reads them fast for
//! hundreds of epochs.
//!
//! The story, in file order:
//! - [`format`] fixes the bytes of a shard: a 64-byte header (magic, version, encoding, geometry,
//!   record count, payload length, index CRC32, header CRC32), an index of 32-byte entries (offset,
//!   length, label, original size, record CRC32), then the payload. FORMAT.md is the reference.
//! - [`shard_writer`] gathers records and writes a shard under a temporary name, then renames it, so
//!   a file under its final name is always complete.
//! - [`shard_reader`] maps a shard with `memmap2`, validates it on open (everything but the payload),
//!   and checks each record's CRC32 when it is read. Every error names the file and the record
//!   ([`error::ShardError`]).
//! - [`manifest`] is the JSON file that lists the shards, the class names and the prep settings.
//!
//! The crate depends on nothing else of this workspace: batches leave it as plain `Vec<f32>`.

pub mod error;
pub mod format;
pub mod manifest;
pub mod shard_reader;
pub mod shard_writer;

#[cfg(test)]
mod shard_tests;

pub use error::ShardError;
pub use format::{Encoding, NO_LABEL};
pub use manifest::Manifest;
pub use shard_reader::{Record, Shard};
pub use shard_writer::ShardWriter;
