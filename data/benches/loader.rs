//! Loader and writer throughput, in images/s on one core (one worker thread), at 224 with CAE's
//! augmentation (RandomResizedCrop bicubic, flip, normalise; with and without the 112 Lanczos view),
//! from raw shards (256²) and from JPEG shards (≤ 512 px, quality 90); and `prep` on one thread.
//!
//! Input: the real photos of Debian's `scratch` package (Media/Backgrounds, 480×360 JPEGs; see
//! data/tests/real_data.rs for where they are found), or generated images when they are absent.
//! Peer: `torch_loader.py` beside this file, a PyTorch DataLoader with torchvision's transforms
//! (num_workers=0, one thread) over the same photos. Targets: raw ≥ 1,800 images/s per core; JPEG
//! ≥ 1.5× the PyTorch loader per core.
//!
//! `cargo bench -p data --bench loader`

use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput};
use data::manifest::PrepSettings;
use data::prep::{run_prep, Source};
use data::{Dataset, Encoding, Loader, LoaderConfig, Transform};

/// Images per loader batch: one epoch of the scratch photos is a single batch.
const BATCH: usize = 64;
/// Epochs the side-by-side summary times (the scratch photos make short epochs).
const SUMMARY_EPOCHS: u64 = 20;

/// The scratch photos, or a folder of generated 480×360 JPEGs in two classes.
fn input_folder(tmp: &Path) -> PathBuf {
    let root = std::env::var_os("CAE_SCRATCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-data/scratch"))
        .join("usr/share/scratch/Media/Backgrounds");
    if root.is_dir() {
        return root;
    }
    eprintln!("scratch photos not found at {}: using generated images", root.display());
    let gen = tmp.join("generated");
    for c in 0..2 {
        let dir = gen.join(format!("class{c}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..32u32 {
            let px: Vec<u8> =
                (0..480 * 360u32).flat_map(|p| [(p % 480) as u8, (p / 480 + i) as u8, (c * 100 + i) as u8]).collect();
            std::fs::write(dir.join(format!("{i}.jpg")), data::prep_transform::encode_jpeg(&px, 480, 360, 90)).unwrap();
        }
    }
    gen
}

fn settings(root: &Path, encoding: Encoding, side: u32) -> PrepSettings {
    PrepSettings {
        source_kind: "folder".into(),
        source: root.display().to_string(),
        encoding,
        side,
        quality: if encoding == Encoding::Jpeg { 90 } else { 0 },
        shard_size: 1024,
        val_fraction: 0.0,
        seed: 0,
    }
}

fn one_core<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(f)
}

fn benches(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let root = input_folder(tmp.path());
    let source = Source::Folder { root: root.clone() };

    let mut g = c.benchmark_group("prep");
    g.sample_size(10);
    for (name, encoding, side) in [("raw256", Encoding::Raw, 256), ("jpeg512q90", Encoding::Jpeg, 512)] {
        let out = tmp.path().join(name);
        let n = one_core(|| run_prep(&source, &out, &settings(&root, encoding, side), false)).unwrap();
        let records: u64 = n.manifest.splits.iter().map(|s| s.records).sum();
        g.throughput(Throughput::Elements(records));
        g.bench_function(format!("{name}/1-thread"), |b| {
            b.iter(|| {
                let fresh = tmp.path().join(format!("{name}-again"));
                let _ = std::fs::remove_dir_all(&fresh);
                one_core(|| run_prep(&source, &fresh, &settings(&root, encoding, side), false)).unwrap()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("loader");
    g.sample_size(20);
    for shards in ["raw256", "jpeg512q90"] {
        for (view, transform) in [
            ("224", Transform::Train { size: 224, second: None }),
            ("224+112", Transform::CAE),
            ("eval224", Transform::EVAL),
        ] {
            let dataset = Dataset::from_manifest(&tmp.path().join(shards), "train").unwrap();
            let records = dataset.len();
            let config = LoaderConfig {
                batch_size: BATCH,
                transform,
                workers: 1,
                drop_last: false,
                shuffle: matches!(transform, Transform::Train { .. }),
                ..LoaderConfig::train(BATCH, 0)
            };
            let loader = Loader::new(dataset, config);
            g.throughput(Throughput::Elements(records));
            let mut epoch = 0;
            g.bench_function(format!("{shards}/{view}/1-worker"), |b| {
                b.iter(|| {
                    epoch += 1;
                    let mut n = 0;
                    for batch in loader.epoch(epoch, 0) {
                        let batch = batch.unwrap();
                        n += batch.len();
                        loader.recycle(batch);
                    }
                    n
                })
            });
        }
    }
    g.finish();
}

/// Images/s of one loader epoch loop on one core, best of `SUMMARY_EPOCHS` epochs.
fn our_rate(shards: &Path) -> f64 {
    let dataset = Dataset::from_manifest(shards, "train").unwrap();
    // Keep the last partial batch: the scratch photos are a single batch.
    let loader = Loader::new(
        dataset,
        LoaderConfig { batch_size: BATCH, workers: 1, drop_last: false, ..LoaderConfig::train(BATCH, 0) },
    );
    (1..=SUMMARY_EPOCHS)
        .map(|epoch| {
            let start = std::time::Instant::now();
            let mut n = 0;
            for batch in loader.epoch(epoch, 0) {
                let batch = batch.unwrap();
                n += batch.len();
                loader.recycle(batch);
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// The PyTorch peer's train-transform images/s over the same photos, or why there is none.
fn torch_rate(folder: &Path) -> Result<f64, String> {
    let python = std::env::var("TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/torch_loader.py");
    let out =
        std::process::Command::new(&python).arg(script).arg(folder).output().map_err(|e| format!("{python}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("torchvision RandomResizedCrop"))
        .and_then(|l| l.split(':').nth(1)?.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("no output").to_string())
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    // The summary beside the peer, in the same run: RandomResizedCrop 224 + flip + normalise.
    let tmp = tempfile::tempdir().unwrap();
    let root = input_folder(tmp.path());
    let source = Source::Folder { root: root.clone() };
    println!("\nloader, one core, RandomResizedCrop 224 (bicubic) + flip + normalise, {}", root.display());
    let torch = torch_rate(&root);
    for (name, encoding, side) in [("raw256", Encoding::Raw, 256), ("jpeg512q90", Encoding::Jpeg, 512)] {
        let out = tmp.path().join(name);
        one_core(|| run_prep(&source, &out, &settings(&root, encoding, side), false)).unwrap();
        let ours = one_core(|| our_rate(&out));
        match &torch {
            Ok(t) => println!("  {name:<11} ours {ours:>7.0} images/s   pytorch DataLoader {t:>6.0} images/s   ratio {:.2}", ours / t),
            Err(why) => println!("  {name:<11} ours {ours:>7.0} images/s   pytorch peer unavailable ({why}; set TORCH_PYTHON to a Python with torchvision)"),
        }
    }
}
