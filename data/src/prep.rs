//! The `prep` pipeline: list the inputs, split and order them, cut them into shards, and make each
//! missing shard in parallel (decode, transform, encode), keeping finished shards on a rerun.
//!
//! The output is a function of the input and [`PrepSettings`]: the listing is sorted, the
//! validation split and the stored order are seeded shuffles, and rayon's ordered `collect` keeps
//! records in plan order whatever the thread count.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use fast_image_resize::Resizer;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::format::{Encoding, VERSION};
use crate::manifest::{write_atomic, Manifest, PrepSettings, ShardInfo, Split, MANIFEST_NAME};
use crate::prep_transform::{to_jpeg, to_raw};
use crate::rng::SplitMix64;
use crate::shard_reader::Shard;
use crate::shard_writer::ShardWriter;
use crate::source::{list_class_tree, list_idx, list_plain, split_val, Item, Skipped};

/// File name of the list of skipped inputs.
pub const REPORT_NAME: &str = "report.json";
/// File name of the settings of a run in progress, checked when a run is resumed.
const SETTINGS_NAME: &str = "prep-settings.json";
/// Stream id of the stored-order shuffle, so it differs from the validation split's stream.
const ORDER_STREAM: u64 = 1;

/// One transformed input, ready for the shard writer.
struct Prepared {
    bytes: Vec<u8>,
    label: u32,
    orig_width: u32,
    orig_height: u32,
}

/// What to read.
#[derive(Debug, Clone)]
pub enum Source {
    /// `root/<class>/…` image files.
    Folder { root: PathBuf },
    /// Every image file under `root`, unlabelled.
    Plain { root: PathBuf },
    /// IDX images and labels, with an optional second pair that becomes the `val` split.
    Idx { images: PathBuf, labels: PathBuf, val: Option<(PathBuf, PathBuf)> },
}

/// What a run did.
#[derive(Debug)]
pub struct PrepSummary {
    pub manifest: Manifest,
    pub skipped: Vec<Skipped>,
    /// Shards made by this run, and shards kept from an earlier run.
    pub shards_written: usize,
    pub shards_kept: usize,
}

/// The work planned before any decoding: class names and the items of each split, in stored order.
struct Plan {
    classes: Vec<String>,
    splits: Vec<(String, Vec<Item>)>,
    skipped: Vec<Skipped>,
}

fn plan(source: &Source, settings: &PrepSettings) -> anyhow::Result<Plan> {
    let (classes, mut splits, skipped) = match source {
        Source::Folder { root } => {
            let (classes, items, skipped) = list_class_tree(root)?;
            let (train, val) = split_val(items, settings.val_fraction, settings.seed);
            (classes, vec![("train".to_string(), train), ("val".to_string(), val)], skipped)
        }
        Source::Plain { root } => (Vec::new(), vec![("train".to_string(), list_plain(root)?)], Vec::new()),
        Source::Idx { images, labels, val } => {
            let train = list_idx(images, labels)?;
            let mut splits = vec![("train".to_string(), train)];
            if let Some((vi, vl)) = val {
                splits.push(("val".to_string(), list_idx(vi, vl)?));
            }
            let classes = (0..=splits.iter().flat_map(|(_, s)| s.iter().map(|i| i.label)).max().unwrap_or(0))
                .map(|l| l.to_string())
                .collect();
            (classes, splits, Vec::new())
        }
    };
    splits.retain(|(_, items)| !items.is_empty());
    if splits.is_empty() {
        bail!("{}: no input files found", settings.source);
    }
    // Store training records in a seeded random order, so that any run of consecutive shards is a
    // fair sample of the classes (useful for quick runs on a few shards).
    SplitMix64::from_parts(&[settings.seed, ORDER_STREAM]).shuffle(&mut splits[0].1);
    Ok(Plan { classes, splits, skipped })
}

/// Runs `prep` from `source` into `out_dir` with `settings`; resumes a run with the same settings.
pub fn run_prep(
    source: &Source,
    out_dir: &Path,
    settings: &PrepSettings,
    progress: bool,
) -> anyhow::Result<PrepSummary> {
    check_settings(settings)?;
    let plan = plan(source, settings)?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("{}: cannot create folder", out_dir.display()))?;
    claim_folder(out_dir, settings)?;
    let total: usize = plan.splits.iter().map(|(_, items)| items.len()).sum();
    let bar = progress_bar(total as u64, progress);
    let mut skipped = plan.skipped;
    let (mut written, mut kept) = (0, 0);
    let mut splits = Vec::new();
    for (name, items) in &plan.splits {
        let mut shards = Vec::new();
        for (i, chunk) in items.chunks(settings.shard_size).enumerate() {
            let file = format!("{name}-{i:05}.shard");
            let path = out_dir.join(&file);
            let (records, shard_skips, was_kept) = make_or_keep_shard(&path, chunk, settings, &bar)?;
            if was_kept {
                kept += 1;
            } else {
                written += 1;
            }
            skipped.extend(shard_skips);
            let bytes = std::fs::metadata(&path).with_context(|| path.display().to_string())?.len();
            shards.push(ShardInfo { file, records, bytes });
        }
        let records = shards.iter().map(|s| s.records).sum();
        splits.push(Split { name: name.clone(), records, shards });
    }
    bar.finish_and_clear();
    let report = serde_json::to_string_pretty(&skipped)? + "\n";
    write_atomic(&out_dir.join(REPORT_NAME), report.as_bytes())?;
    // No manifest for a folder with nothing to train on: a run would find 0 batches, not an error.
    if splits.iter().all(|s| s.records == 0) {
        bail!(
            "{}: none of the {total} input files could be read (reasons in {})",
            settings.source,
            out_dir.join(REPORT_NAME).display()
        );
    }
    let manifest = Manifest { format_version: VERSION, classes: plan.classes, splits, prep: settings.clone() };
    manifest.save(&out_dir.join(MANIFEST_NAME))?;
    Ok(PrepSummary { manifest, skipped, shards_written: written, shards_kept: kept })
}

fn check_settings(s: &PrepSettings) -> anyhow::Result<()> {
    if s.side == 0 || s.side > u16::MAX as u32 {
        bail!("side must be between 1 and 65535, got {}", s.side);
    }
    if s.encoding == Encoding::Jpeg && !(1..=100).contains(&s.quality) {
        bail!("JPEG quality must be between 1 and 100, got {}", s.quality);
    }
    if s.shard_size == 0 {
        bail!("shard size must be at least 1 record");
    }
    if !(0.0..1.0).contains(&s.val_fraction) {
        bail!("validation fraction must be in [0, 1), got {}", s.val_fraction);
    }
    Ok(())
}

/// Records the settings in the output folder, or checks them against an interrupted run's, so a
/// resumed run never mixes shards made with different settings.
fn claim_folder(out_dir: &Path, settings: &PrepSettings) -> anyhow::Result<()> {
    let path = out_dir.join(SETTINGS_NAME);
    let text = serde_json::to_string_pretty(settings)? + "\n";
    match std::fs::read_to_string(&path) {
        Ok(old) if old == text => Ok(()),
        Ok(_) => {
            bail!("{}: this folder holds a prep run with other settings; use a new folder or delete it", path.display())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_atomic(&path, text.as_bytes()),
        Err(e) => bail!("{}: {e}", path.display()),
    }
}

/// The skipped inputs of one shard, kept beside it so a resumed run can still report them.
fn skips_path(shard: &Path) -> PathBuf {
    shard.with_extension("skipped.json")
}

/// Keeps `path` if it exists and validates, else makes it from `items`.
/// Returns (records, skipped inputs, kept).
fn make_or_keep_shard(
    path: &Path,
    items: &[Item],
    settings: &PrepSettings,
    bar: &ProgressBar,
) -> anyhow::Result<(u64, Vec<Skipped>, bool)> {
    if let Ok(shard) = Shard::open(path) {
        if shard.verify_all().is_ok() {
            let skips = match std::fs::read_to_string(skips_path(path)) {
                Ok(text) => serde_json::from_str(&text).with_context(|| skips_path(path).display().to_string())?,
                Err(_) => Vec::new(),
            };
            bar.inc(items.len() as u64);
            return Ok((shard.len() as u64, skips, true));
        }
    }
    let results: Vec<Result<Prepared, Skipped>> = items
        .par_iter()
        .map_init(Resizer::new, |resizer, item| {
            let out = prepare_item(item, settings, resizer);
            bar.inc(1);
            out
        })
        .collect();
    let mut writer = ShardWriter::new(path, settings.encoding, settings.side, settings.quality);
    let mut skips = Vec::new();
    for r in results {
        match r {
            Ok(p) => writer.push(&p.bytes, p.label, p.orig_width, p.orig_height),
            Err(s) => skips.push(s),
        }
    }
    // The skip list goes first: a shard under its final name always has its list beside it.
    if skips.is_empty() {
        let _ = std::fs::remove_file(skips_path(path));
    } else {
        write_atomic(&skips_path(path), (serde_json::to_string_pretty(&skips)? + "\n").as_bytes())?;
    }
    let records = writer.len() as u64;
    writer.finish()?;
    Ok((records, skips, false))
}

/// Decodes and transforms one input into a record.
fn prepare_item(item: &Item, settings: &PrepSettings, resizer: &mut Resizer) -> Result<Prepared, Skipped> {
    let img = item.load().map_err(|reason| Skipped { path: item.describe(), reason })?;
    let bytes = match settings.encoding {
        Encoding::Raw => to_raw(&img, settings.side, resizer),
        Encoding::Jpeg => to_jpeg(&img, settings.side, settings.quality as u8, resizer),
    };
    Ok(Prepared { bytes, label: item.label, orig_width: img.width, orig_height: img.height })
}

fn progress_bar(len: u64, visible: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(len),
        if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} images, {per_sec}, ETA {eta}")
            .expect("the template is valid"),
    );
    bar
}
