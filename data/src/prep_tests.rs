//! The prep pipeline on a generated class tree: determinism, skipped files, validation split,
//! resumption after an interruption, and refusing to mix settings.

use std::path::Path;

use crate::format::Encoding;
use crate::manifest::{Manifest, PrepSettings, MANIFEST_NAME};
use crate::prep::{run_prep, Source, REPORT_NAME};
use crate::prep_transform::encode_jpeg;
use crate::shard_reader::Shard;
use crate::source::Skipped;

/// Three classes of five 40×30 JPEGs each, plus a truncated JPEG, a text file and a stray root file.
fn make_tree(root: &Path) {
    for (c, name) in ["cat", "dog", "eel"].iter().enumerate() {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..5 {
            let px: Vec<u8> = (0..40 * 30).flat_map(|p| [(c * 80) as u8, (i * 40) as u8, (p % 256) as u8]).collect();
            std::fs::write(dir.join(format!("{i}.jpg")), encode_jpeg(&px, 40, 30, 90)).unwrap();
        }
    }
    let good = std::fs::read(root.join("cat/0.jpg")).unwrap();
    std::fs::write(root.join("dog/cut.jpg"), &good[..good.len() / 2]).unwrap();
    std::fs::write(root.join("eel/notes.txt"), "not an image").unwrap();
    std::fs::write(root.join("LICENSE"), "stray").unwrap();
}

fn settings(root: &Path, encoding: Encoding) -> PrepSettings {
    PrepSettings {
        source_kind: "folder".into(),
        source: root.display().to_string(),
        encoding,
        side: 16,
        quality: if encoding == Encoding::Jpeg { 90 } else { 0 },
        shard_size: 4,
        val_fraction: 0.2,
        seed: 3,
    }
}

fn shard_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "shard" || e == "json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn class_tree_becomes_shards_with_a_report_and_a_val_split() {
    let input = tempfile::tempdir().unwrap();
    make_tree(input.path());
    let out = tempfile::tempdir().unwrap();
    let s = settings(input.path(), Encoding::Raw);
    let summary = run_prep(&Source::Folder { root: input.path().into() }, out.path(), &s, false).unwrap();
    let m = Manifest::load(&out.path().join(MANIFEST_NAME)).unwrap();
    assert_eq!(m.classes, ["cat", "dog", "eel"]);
    // 5 good images per class; round(5 * 0.2) = 1 per class held out (a bad file may be among them).
    let train = m.split("train").unwrap();
    let val = m.split("val").unwrap();
    assert_eq!(train.records + val.records, 15);
    assert_eq!(summary.skipped.len(), 3);
    let report: Vec<Skipped> =
        serde_json::from_str(&std::fs::read_to_string(out.path().join(REPORT_NAME)).unwrap()).unwrap();
    assert_eq!(report, summary.skipped);
    let reasons: Vec<String> = report.iter().map(|s| format!("{} {}", s.path, s.reason)).collect();
    assert!(reasons.iter().any(|r| r.contains("cut.jpg") && r.contains("truncated")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("notes.txt") && r.contains("not a JPEG or PNG")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("LICENSE") && r.contains("class folder")), "{reasons:?}");
    let mut labels = Vec::new();
    for path in m.shard_paths(out.path(), "train").iter().chain(&m.shard_paths(out.path(), "val")) {
        let shard = Shard::open(path).unwrap();
        shard.verify_all().unwrap();
        for i in 0..shard.len() {
            let r = shard.record(i).unwrap();
            assert_eq!(r.bytes.len(), 16 * 16 * 3);
            assert_eq!((r.orig_width, r.orig_height), (40, 30));
            labels.push(r.label);
        }
    }
    labels.sort();
    assert_eq!(labels, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
}

#[test]
fn same_input_gives_same_bytes_and_a_rerun_resumes() {
    let input = tempfile::tempdir().unwrap();
    make_tree(input.path());
    let source = Source::Folder { root: input.path().into() };
    let s = settings(input.path(), Encoding::Jpeg);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_prep(&source, a.path(), &s, false).unwrap();
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    one_thread.install(|| run_prep(&source, b.path(), &s, false)).unwrap();
    let first = shard_bytes(a.path());
    assert!(first.len() > 4);
    assert_eq!(first, shard_bytes(b.path()), "output depends on the thread count");

    // Interrupt: one shard gone, one cut short, a temporary file left behind.
    let m = Manifest::load(&a.path().join(MANIFEST_NAME)).unwrap();
    let shards = m.shard_paths(a.path(), "train");
    std::fs::remove_file(&shards[0]).unwrap();
    let cut = std::fs::read(&shards[1]).unwrap();
    std::fs::write(&shards[1], &cut[..cut.len() - 5]).unwrap();
    std::fs::write(crate::shard_writer::temp_path(&shards[0]), b"partial").unwrap();
    let summary = run_prep(&source, a.path(), &s, false).unwrap();
    assert_eq!(summary.shards_written, 2);
    assert_eq!(summary.shards_kept, m.splits.iter().map(|s| s.shards.len()).sum::<usize>() - 2);
    assert_eq!(summary.skipped.len(), 3, "skips of kept shards are still reported");
    let mut after = shard_bytes(a.path());
    after.retain(|(n, _)| !n.ends_with(".tmp"));
    assert_eq!(first, after);
}

#[test]
fn a_rerun_with_other_settings_is_refused() {
    let input = tempfile::tempdir().unwrap();
    make_tree(input.path());
    let source = Source::Folder { root: input.path().into() };
    let out = tempfile::tempdir().unwrap();
    run_prep(&source, out.path(), &settings(input.path(), Encoding::Raw), false).unwrap();
    let err = run_prep(&source, out.path(), &settings(input.path(), Encoding::Jpeg), false).unwrap_err();
    assert!(err.to_string().contains("other settings"), "{err}");
}

#[test]
fn bad_settings_and_missing_inputs_are_clear_errors() {
    let out = tempfile::tempdir().unwrap();
    let mut s = settings(Path::new("/nonexistent"), Encoding::Jpeg);
    let missing = Source::Folder { root: "/nonexistent".into() };
    let err = run_prep(&missing, out.path(), &s, false).unwrap_err();
    assert!(format!("{err:#}").contains("/nonexistent"), "{err:#}");
    s.quality = 0;
    assert!(run_prep(&missing, out.path(), &s, false).unwrap_err().to_string().contains("quality"));
}

#[test]
fn a_tree_with_nothing_readable_is_an_error_naming_the_report() {
    let input = tempfile::tempdir().unwrap();
    let dir = input.path().join("cat");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("x.jpg"), "text, not a photo").unwrap();
    std::fs::write(dir.join("y.gif"), b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut s = settings(input.path(), Encoding::Raw);
    s.val_fraction = 0.0;
    let err = run_prep(&Source::Folder { root: input.path().into() }, out.path(), &s, false).unwrap_err();
    assert!(err.to_string().contains("none of the 2 input files could be read"), "{err}");
    assert!(out.path().join(REPORT_NAME).exists() && !out.path().join(MANIFEST_NAME).exists());
}
