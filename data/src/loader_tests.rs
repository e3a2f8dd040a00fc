//! Invariants of the loader on generated shards: each record once per epoch over the ranks,
//! determinism whatever the worker count, resumption equal to the tail of an epoch, shapes of both
//! views, the evaluation order, JPEG shards, and a damaged record reported by file and record.

use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::error::{LoadError, ShardError};
use crate::format::Encoding;
use crate::loader::{Batch, Loader, LoaderConfig, Transform};
use crate::prep_transform::encode_jpeg;
use crate::shard_writer::ShardWriter;

const SIDE: u32 = 40;

/// Image `i`: a gradient whose colour depends on `i`, so records differ.
fn pixels(i: usize) -> Vec<u8> {
    (0..SIDE * SIDE).flat_map(|p| [(i * 10) as u8, (p % SIDE * 6) as u8, (p / SIDE * 6) as u8]).collect()
}

/// Three shards of 7, 5 and 11 records (23 in all); label = record number.
fn make_shards(dir: &Path, encoding: Encoding) -> Vec<PathBuf> {
    let mut next = 0;
    let mut paths = Vec::new();
    for (s, n) in [7, 5, 11].into_iter().enumerate() {
        let path = dir.join(format!("t-{s}.shard"));
        let mut w = ShardWriter::new(&path, encoding, SIDE, 90);
        for _ in 0..n {
            let px = pixels(next);
            let bytes = if encoding == Encoding::Raw { px } else { encode_jpeg(&px, SIDE, SIDE, 90) };
            w.push(&bytes, next as u32, SIDE, SIDE);
            next += 1;
        }
        paths.push(w.finish().unwrap());
    }
    paths
}

fn config(batch_size: usize, workers: usize) -> LoaderConfig {
    LoaderConfig {
        batch_size,
        transform: Transform::Train { size: 24, second: Some(12) },
        seed: 11,
        rank: 0,
        world_size: 1,
        workers,
        prefetch: 2,
        shuffle: true,
        drop_last: false,
    }
}

fn run(paths: &[PathBuf], config: LoaderConfig, epoch: u64, start: usize) -> Vec<Batch> {
    Loader::new(Dataset::open(paths).unwrap(), config).epoch(epoch, start).map(|b| b.unwrap()).collect()
}

#[test]
fn every_record_once_per_epoch_across_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let paths = make_shards(dir.path(), Encoding::Raw);
    for world in [1, 2, 3] {
        let mut seen = Vec::new();
        for rank in 0..world {
            let c = LoaderConfig { rank, world_size: world, ..config(4, 2) };
            for b in run(&paths, c, 5, 0) {
                assert_eq!(b.labels.iter().map(|&l| l as u64).collect::<Vec<_>>(), b.records);
                seen.extend(b.records);
            }
        }
        seen.sort();
        assert_eq!(seen, (0..23).collect::<Vec<u64>>(), "world size {world}");
    }
}

#[test]
fn batches_are_deterministic_whatever_the_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let paths = make_shards(dir.path(), Encoding::Raw);
    let one = run(&paths, config(4, 1), 2, 0);
    let three = run(&paths, config(4, 3), 2, 0);
    assert_eq!(one, three);
    assert_eq!(one.len(), 6); // 23 records in batches of 4, the last partial
    assert_eq!(one.iter().map(|b| b.index).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
    let other_epoch = run(&paths, config(4, 2), 3, 0);
    assert_ne!(one[0].records, other_epoch[0].records);
}

#[test]
fn starting_at_batch_k_gives_the_tail_of_the_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let paths = make_shards(dir.path(), Encoding::Raw);
    let full = run(&paths, config(3, 2), 7, 0);
    for k in [0, 1, 4, full.len() - 1, full.len()] {
        assert_eq!(run(&paths, config(3, 3), 7, k), full[k..], "start at batch {k}");
    }
}

#[test]
fn batches_have_both_views_normalised_and_drop_last_trims() {
    let dir = tempfile::tempdir().unwrap();
    let paths = make_shards(dir.path(), Encoding::Raw);
    let c = LoaderConfig { drop_last: true, ..config(4, 2) };
    let loader = Loader::new(Dataset::open(&paths).unwrap(), c);
    assert_eq!(loader.batches_per_epoch(), 5);
    let batches: Vec<Batch> = loader.epoch(0, 0).map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 5);
    for b in &batches {
        assert_eq!(b.shape(), [4, 3, 24, 24]);
        assert_eq!(b.images.len(), 4 * 3 * 24 * 24);
        assert_eq!(b.second.as_ref().unwrap().len(), 4 * 3 * 12 * 12);
        // Normalised u8 pixels lie in [(0 - mean) / std, (1 - mean) / std] (Lanczos may ring a bit).
        assert!(b.images.iter().all(|x| x.is_finite() && (-2.2..=2.7).contains(x)));
    }
    // Stopping early must not hang (the workers see the closed queues).
    let mut it = loader.epoch(1, 0);
    it.next().unwrap().unwrap();
    drop(it);
}

#[test]
#[should_panic(expected = "eval transform: crop 8 must be in 1..=4")]
fn an_eval_crop_larger_than_its_resize_is_refused_up_front() {
    // Before, the workers panicked on the first batch and the consumer reported a dead worker.
    let dir = tempfile::tempdir().unwrap();
    let paths = make_shards(dir.path(), Encoding::Raw);
    let c = LoaderConfig { transform: Transform::Eval { resize: 4, crop: 8 }, ..config(4, 1) };
    Loader::new(Dataset::open(&paths).unwrap(), c);
}

#[test]
fn eval_reads_in_stored_order_without_randomness() {
    let dir = tempfile::tempdir().unwrap();
    let paths = make_shards(dir.path(), Encoding::Raw);
    let c = LoaderConfig { transform: Transform::Eval { resize: 40, crop: 32 }, shuffle: false, ..config(10, 2) };
    let a = run(&paths, c.clone(), 0, 0);
    let b = run(&paths, LoaderConfig { seed: 99, ..c }, 4, 0);
    assert_eq!(a, b);
    assert_eq!(a[0].records, (0..10).collect::<Vec<u64>>());
    assert_eq!(a[0].shape(), [10, 3, 32, 32]);
    assert!(a[0].second.is_none());
}

#[test]
fn jpeg_shards_load() {
    let dir = tempfile::tempdir().unwrap();
    let paths = make_shards(dir.path(), Encoding::Jpeg);
    let raw_dir = tempfile::tempdir().unwrap();
    let raw_paths = make_shards(raw_dir.path(), Encoding::Raw);
    let jpeg = run(&paths, config(5, 2), 0, 0);
    let raw = run(&raw_paths, config(5, 2), 0, 0);
    assert_eq!(jpeg.len(), 5);
    for (j, r) in jpeg.iter().zip(&raw) {
        assert_eq!(j.records, r.records);
        // Same crops from the same seeds; only JPEG's loss separates the two.
        let mean_abs: f32 =
            j.images.iter().zip(&r.images).map(|(a, b)| (a - b).abs()).sum::<f32>() / j.images.len() as f32;
        assert!(mean_abs < 0.1, "JPEG and raw batches differ by {mean_abs} on average");
    }
}

#[test]
fn a_damaged_record_is_reported_by_file_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let paths = make_shards(dir.path(), Encoding::Raw);
    let mut bytes = std::fs::read(&paths[1]).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1; // last record of the middle shard: its local number is 4
    std::fs::write(&paths[1], bytes).unwrap();
    let results: Vec<_> = Loader::new(Dataset::open(&paths).unwrap(), config(4, 2)).epoch(0, 0).collect();
    let errors: Vec<String> = results.iter().filter_map(|r| r.as_ref().err()).map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("t-1.shard: record 4: checksum"), "{}", errors[0]);
    assert!(results.iter().any(|r| matches!(r, Err(LoadError::Shard(ShardError::RecordChecksum { .. })))));
}

#[test]
fn recycled_buffers_give_the_same_batches() {
    let dir = tempfile::tempdir().unwrap();
    let paths = make_shards(dir.path(), Encoding::Raw);
    let fresh = run(&paths, config(4, 2), 1, 0);
    let loader = Loader::new(Dataset::open(&paths).unwrap(), config(4, 2));
    for epoch in [0, 1] {
        for batch in loader.epoch(epoch, 0) {
            let batch = batch.unwrap();
            if epoch == 1 {
                assert_eq!(batch, fresh[batch.index]);
            }
            loader.recycle(batch);
        }
    }
}
