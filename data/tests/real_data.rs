//! `prep` and the reader on real images: the photos of Debian's `scratch` package (JPEGs in class
//! folders mixed with GIFs, a PNG and thumbnail databases) and Debian's `dataset-fashion-mnist` (IDX).
//!
//! Where to find them: `.ci/run` installs both. Fashion-MNIST is read from
//! `/usr/share/datasets/fashion-mnist` (or `$CAE_FASHION_MNIST_DIR`); scratch's files are extracted
//! (not installed) into `target/test-data/scratch` (or `$CAE_SCRATCH_DIR`), and the tests read
//! `usr/share/scratch/Media/Backgrounds` below that. A test whose data is missing prints why and passes.

use std::path::{Path, PathBuf};

use data::manifest::{Manifest, PrepSettings, MANIFEST_NAME};
use data::prep::{run_prep, Source};
use data::{Encoding, Shard, ShardError};

fn scratch_backgrounds() -> Option<PathBuf> {
    let root = std::env::var_os("CAE_SCRATCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-data/scratch"));
    let dir = root.join("usr/share/scratch/Media/Backgrounds");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} not found. Run .ci/run, or: apt-get download scratch && \
             dpkg -x scratch_*.deb target/test-data/scratch (or set CAE_SCRATCH_DIR)",
            dir.display()
        );
        None
    }
}

fn fashion_mnist() -> Option<PathBuf> {
    let dir = std::env::var_os("CAE_FASHION_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/datasets/fashion-mnist"));
    if dir.join("train-images-idx3-ubyte.gz").is_file() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: Fashion-MNIST not found in {}: apt-get install dataset-fashion-mnist", dir.display());
        None
    }
}

fn settings(source: &Path, kind: &str, encoding: Encoding, side: u32, val_fraction: f64) -> PrepSettings {
    PrepSettings {
        source_kind: kind.into(),
        source: source.display().to_string(),
        encoding,
        side,
        quality: if encoding == Encoding::Jpeg { 90 } else { 0 },
        shard_size: 16,
        val_fraction,
        seed: 0,
    }
}

/// Files inside the class folders whose extension says JPEG or PNG, and all files in the tree.
fn count_files(root: &Path) -> (usize, usize) {
    let (mut images, mut all) = (0, 0);
    for class in std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()) {
        if !class.is_dir() {
            all += 1;
            continue;
        }
        for f in std::fs::read_dir(&class).unwrap().map(|e| e.unwrap().path()) {
            all += 1;
            let ext = f.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
            images += matches!(ext.as_str(), "jpg" | "jpeg" | "png") as usize;
        }
    }
    (images, all)
}

#[test]
fn scratch_photos_become_shards_and_non_images_are_reported() {
    let Some(root) = scratch_backgrounds() else { return };
    let (images, all) = count_files(&root);
    for (encoding, side) in [(Encoding::Raw, 64), (Encoding::Jpeg, 512)] {
        let out = tempfile::tempdir().unwrap();
        let s = settings(&root, "folder", encoding, side, 0.1);
        let summary = run_prep(&Source::Folder { root: root.clone() }, out.path(), &s, false).unwrap();
        let m = Manifest::load(&out.path().join(MANIFEST_NAME)).unwrap();
        assert_eq!(m.classes, ["Indoors", "Nature", "Outdoors", "Sports"]);
        let records: u64 = m.splits.iter().map(|s| s.records).sum();
        assert_eq!(records as usize, images, "every JPEG and PNG is kept");
        assert_eq!(summary.skipped.len(), all - images, "every other file is reported: {:#?}", summary.skipped);
        assert!(summary.skipped.iter().any(|s| s.path.ends_with(".gif") && s.reason.contains("Gif")));
        assert!(summary.skipped.iter().any(|s| s.path.ends_with(".db") && s.reason.contains("not a JPEG or PNG")));
        assert!(m.split("val").unwrap().records > 0);
        for path in m.shard_paths(out.path(), "train").iter().chain(&m.shard_paths(out.path(), "val")) {
            let shard = Shard::open(path).unwrap();
            for i in 0..shard.len() {
                let r = shard.record(i).unwrap();
                assert!(r.label < 4);
                assert!(r.orig_width >= 100 && r.orig_height >= 100);
                if encoding == Encoding::Raw {
                    assert_eq!(r.bytes.len(), 64 * 64 * 3);
                } else {
                    assert_eq!(&r.bytes[..2], [0xFF, 0xD8], "a JPEG record starts with SOI");
                    assert!(r.orig_width.max(r.orig_height) <= 512 || r.bytes.len() < 512 * 512 * 3);
                }
            }
        }
    }
}

#[test]
fn damaged_real_shards_are_caught_naming_file_and_record() {
    let Some(root) = scratch_backgrounds() else { return };
    let out = tempfile::tempdir().unwrap();
    let s = settings(&root, "folder", Encoding::Jpeg, 256, 0.0);
    run_prep(&Source::Folder { root: root.clone() }, out.path(), &s, false).unwrap();
    let path = Manifest::load(&out.path().join(MANIFEST_NAME)).unwrap().shard_paths(out.path(), "train")[0].clone();
    let clean = std::fs::read(&path).unwrap();

    // A flipped byte in the last record's payload: opening succeeds, reading that record fails.
    let mut flipped = clean.clone();
    let last = flipped.len() - 10;
    flipped[last] ^= 0x40;
    std::fs::write(&path, &flipped).unwrap();
    let shard = Shard::open(&path).unwrap();
    let n = shard.len();
    let err = shard.record(n - 1).unwrap_err();
    assert!(matches!(err, ShardError::RecordChecksum { record, .. } if record as usize == n - 1), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    drop(shard);

    // Cut short, and a JPEG passed off as a shard.
    std::fs::write(&path, &clean[..clean.len() / 2]).unwrap();
    assert!(matches!(Shard::open(&path), Err(ShardError::Truncated { .. })));
    let photo = std::fs::read(root.join("Nature/wave.jpg")).unwrap();
    std::fs::write(&path, photo).unwrap();
    assert!(matches!(Shard::open(&path), Err(ShardError::BadMagic { .. })));
}

#[test]
fn fashion_mnist_idx_becomes_raw_shards() {
    let Some(dir) = fashion_mnist() else { return };
    let out = tempfile::tempdir().unwrap();
    let source = Source::Idx {
        images: dir.join("train-images-idx3-ubyte.gz"),
        labels: dir.join("train-labels-idx1-ubyte.gz"),
        val: Some((dir.join("t10k-images-idx3-ubyte.gz"), dir.join("t10k-labels-idx1-ubyte.gz"))),
    };
    let mut s = settings(&dir, "idx", Encoding::Raw, 28, 0.0);
    s.shard_size = 4096;
    let summary = run_prep(&source, out.path(), &s, false).unwrap();
    assert!(summary.skipped.is_empty());
    let m = &summary.manifest;
    assert_eq!(m.classes.len(), 10);
    assert_eq!((m.split("train").unwrap().records, m.split("val").unwrap().records), (60_000, 10_000));
    let mut per_class = [0usize; 10];
    for path in m.shard_paths(out.path(), "train") {
        let shard = Shard::open(&path).unwrap();
        shard.verify_all().unwrap();
        for i in 0..shard.len() {
            let r = shard.record(i).unwrap();
            per_class[r.label as usize] += 1;
            assert_eq!((r.orig_width, r.orig_height, r.bytes.len()), (28, 28, 28 * 28 * 3));
            assert!(r.bytes.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]), "gray stored as equal RGB");
        }
    }
    assert_eq!(per_class, [6000; 10], "Fashion-MNIST's training set is balanced");
}

#[test]
fn a_truncated_real_photo_is_reported_and_its_neighbours_kept() {
    let Some(root) = scratch_backgrounds() else { return };
    let input = tempfile::tempdir().unwrap();
    let class = input.path().join("nature");
    std::fs::create_dir_all(&class).unwrap();
    let photo = std::fs::read(root.join("Nature/wave.jpg")).unwrap();
    std::fs::write(class.join("wave.jpg"), &photo).unwrap();
    std::fs::write(class.join("wave-cut.jpg"), &photo[..photo.len() * 6 / 10]).unwrap();
    let mut flipped = photo.clone();
    flipped[2] = 0x00; // the first marker after SOI is no longer a marker
    std::fs::write(class.join("wave-bad-marker.jpg"), &flipped).unwrap();
    let out = tempfile::tempdir().unwrap();
    let s = settings(input.path(), "folder", Encoding::Raw, 32, 0.0);
    let summary = run_prep(&Source::Folder { root: input.path().into() }, out.path(), &s, false).unwrap();
    assert_eq!(summary.manifest.split("train").unwrap().records, 1);
    let reasons: Vec<String> = summary.skipped.iter().map(|s| format!("{}: {}", s.path, s.reason)).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("wave-cut.jpg") && r.contains("truncated")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("wave-bad-marker.jpg")), "{reasons:?}");
}
