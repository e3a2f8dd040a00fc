//! Round trips and generated damage for the shard writer and reader.

use std::path::Path;

use crate::error::ShardError;
use crate::format::{Encoding, ENTRY_LEN, HEADER_LEN, NO_LABEL};
use crate::shard_reader::Shard;
use crate::shard_writer::{temp_path, ShardWriter};

fn write_jpeg_like(path: &Path) {
    let mut w = ShardWriter::new(path, Encoding::Jpeg, 512, 90);
    w.push(b"first record", 3, 640, 480);
    w.push(b"", NO_LABEL, 1, 1);
    w.push(b"third, a little longer record", 0, 100, 200);
    w.finish().unwrap();
}

fn damage(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn records_round_trip_and_no_temp_file_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.shard");
    write_jpeg_like(&path);
    assert!(!temp_path(&path).exists());
    let s = Shard::open(&path).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s.header().encoding, Encoding::Jpeg);
    let r = s.record(0).unwrap();
    assert_eq!((r.bytes, r.label, r.orig_width, r.orig_height), (&b"first record"[..], 3, 640, 480));
    assert_eq!(s.record(1).unwrap().bytes, b"");
    assert_eq!(s.record(2).unwrap().bytes, b"third, a little longer record");
    s.verify_all().unwrap();
    assert!(matches!(s.record(3), Err(ShardError::OutOfRange { record: 3, count: 3, .. })));
}

#[test]
fn raw_shard_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.shard");
    let mut w = ShardWriter::new(&path, Encoding::Raw, 2, 0);
    w.push(&[1; 12], 0, 5, 5);
    w.push(&[2; 12], 1, 6, 6);
    w.finish().unwrap();
    let s = Shard::open(&path).unwrap();
    assert_eq!(s.record(1).unwrap().bytes, &[2; 12]);
}

#[test]
fn wrong_magic_is_rejected_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.shard");
    write_jpeg_like(&path);
    damage(&path, |b| b[..4].copy_from_slice(b"\xff\xd8\xff\xe0"));
    let err = Shard::open(&path).err().unwrap();
    assert!(matches!(err, ShardError::BadMagic { .. }), "{err}");
    assert!(err.to_string().contains("a.shard"), "{err}");
}

#[test]
fn flipped_payload_byte_is_a_checksum_error_naming_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.shard");
    write_jpeg_like(&path);
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    damage(&path, |b| b[len - 3] ^= 0x10); // inside the last record
    let s = Shard::open(&path).unwrap(); // the index is intact, so opening succeeds
    s.record(0).unwrap();
    let err = s.record(2).err().unwrap();
    assert!(matches!(err, ShardError::RecordChecksum { record: 2, .. }), "{err}");
    assert!(err.to_string().contains("a.shard: record 2"), "{err}");
    assert!(s.verify_all().is_err());
}

#[test]
fn flipped_index_or_header_byte_is_caught_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.shard");
    write_jpeg_like(&path);
    let clean = std::fs::read(&path).unwrap();
    damage(&path, |b| b[HEADER_LEN + ENTRY_LEN + 12] ^= 1); // label of record 1
    assert!(matches!(Shard::open(&path), Err(ShardError::IndexChecksum { .. })));
    std::fs::write(&path, &clean).unwrap();
    damage(&path, |b| b[17] ^= 1); // record count
    assert!(matches!(Shard::open(&path), Err(ShardError::HeaderChecksum { .. })));
}

#[test]
fn shard_cut_short_or_extended_is_caught_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.shard");
    write_jpeg_like(&path);
    let full = std::fs::read(&path).unwrap();
    for cut in [full.len() - 1, HEADER_LEN + 5, 20, 0] {
        std::fs::write(&path, &full[..cut]).unwrap();
        let err = Shard::open(&path).err().unwrap();
        assert!(matches!(err, ShardError::Truncated { .. }), "cut at {cut}: {err}");
        assert!(err.to_string().contains("cut short"), "{err}");
    }
    let mut longer = full.clone();
    longer.push(0);
    std::fs::write(&path, &longer).unwrap();
    assert!(matches!(Shard::open(&path), Err(ShardError::TooLong { .. })));
}

#[test]
fn index_entry_pointing_past_the_end_names_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.shard");
    write_jpeg_like(&path);
    // Rewrite entry 2's length and re-seal the index checksum, as a buggy writer would.
    damage(&path, |b| {
        let at = HEADER_LEN + 2 * ENTRY_LEN + 8;
        b[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
        let index_end = HEADER_LEN + 3 * ENTRY_LEN;
        let crc = crc32fast::hash(&b[HEADER_LEN..index_end]);
        b[36..40].copy_from_slice(&crc.to_le_bytes());
        let hcrc = crc32fast::hash(&b[..HEADER_LEN - 4]);
        b[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&hcrc.to_le_bytes());
    });
    let err = Shard::open(&path).err().unwrap();
    assert!(matches!(err, ShardError::BadRecord { record: 2, .. }), "{err}");
    assert!(err.to_string().contains("past the end"), "{err}");
}

#[test]
fn missing_file_names_the_path() {
    let err = Shard::open("/nonexistent/x.shard").err().unwrap();
    assert!(err.to_string().contains("/nonexistent/x.shard"), "{err}");
}
