//! `data`: turns image collections into memory-mapped shards once, then reads them fast for
//! hundreds of epochs.
//!
//! The story, in file order:
//! - [`mod@format`] fixes the bytes of a shard: a 64-byte header (magic, version, encoding, geometry,
//!   record count, payload length, index CRC32, header CRC32), an index of 32-byte entries (offset,
//!   length, label, original size, record CRC32), then the payload. FORMAT.md is the reference.
//! - [`shard_writer`] gathers records and writes a shard under a temporary name, then renames it, so
//!   a file under its final name is always complete.
//! - [`shard_reader`] maps a shard with `memmap2`, validates it on open (everything but the payload),
//!   and checks each record's CRC32 when it is read. Every error names the file and the record
//!   ([`error::ShardError`]).
//! - [`manifest`] is the JSON file that lists the shards, the class names and the prep settings.
//! - [`image_decode`] turns a JPEG or PNG file into upright RGB (grayscale, CMYK, EXIF orientation;
//!   truncated JPEGs are caught, since the decoder would pad them with grey).
//! - [`prep_transform`] makes records: raw (shorter side to S, centre crop) or JPEG (longer side at
//!   most S, re-encoded).
//! - [`source`] and [`idx`] list the inputs (class folders, a plain folder, IDX files) in sorted
//!   order; [`rng`] holds the seeded shuffles.
//! - [`prep`] is the pipeline behind the `prep` binary: plan, then make each missing shard in
//!   parallel, with a progress bar, a report of skipped files, and resumption.
//! - [`dataset`] joins a split's shards into one array of records; [`sampler`] deals each epoch's
//!   seeded permutation to the ranks; [`augment`] holds RandomResizedCrop, flip, normalisation and
//!   the evaluation crop; [`loader`] runs them on worker threads into f32 CHW batches behind
//!   bounded queues, resumable at any batch.
//!
//! Crates chosen: `image` (JPEG via zune-jpeg, PNG; only those two formats compiled) for decoding,
//! since it reads EXIF orientation and converts CMYK; `fast_image_resize` for SIMD resampling with
//! PIL's filters; `jpeg-encoder` for fast baseline encoding; `memmap2`, `crc32fast`, `rayon`,
//! `indicatif`, `serde_json`. The crate depends on nothing else of this workspace: batches leave
//! it as plain `Vec<f32>`.

pub mod augment;
pub mod dataset;
pub mod error;
pub mod format;
pub mod idx;
pub mod image_decode;
pub mod loader;
pub mod manifest;
pub mod prep;
pub mod prep_transform;
pub mod rng;
pub mod sampler;
pub mod shard_reader;
pub mod shard_writer;
pub mod source;

#[cfg(test)]
mod image_tests;
#[cfg(test)]
mod loader_tests;
#[cfg(test)]
mod prep_tests;
#[cfg(test)]
mod shard_tests;

pub use dataset::Dataset;
pub use error::{LoadError, ShardError};
pub use format::{Encoding, NO_LABEL};
pub use loader::{Batch, Loader, LoaderConfig, Transform};
pub use manifest::Manifest;
pub use shard_reader::{Record, Shard};
pub use shard_writer::ShardWriter;
