//! `prep`: converts an image collection into shards once (see data/FORMAT.md).
//!
//! ```text
//! prep folder /data/imagenet/train --out /shards/in1k --encoding jpeg --side 512 --quality 90
//! prep folder ./photos --out ./shards --encoding raw --side 256 --val-fraction 0.1
//! prep plain ./unlabelled --out ./shards
//! prep idx --images train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz \
//!          --val-images t10k-images-idx3-ubyte.gz --val-labels t10k-labels-idx1-ubyte.gz \
//!          --out ./fmnist --encoding raw --side 28
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use data::manifest::PrepSettings;
use data::prep::{run_prep, Source, REPORT_NAME};
use data::Encoding;

#[derive(Parser)]
#[command(name = "prep", about = "Convert images into memory-mapped shards for pre-training")]
struct Cli {
    #[command(subcommand)]
    source: SourceCmd,
    #[command(flatten)]
    opts: Opts,
}

#[derive(Subcommand)]
enum SourceCmd {
    /// An ImageNet-style tree: one folder per class, class names sorted into labels 0, 1, …
    Folder { root: PathBuf },
    /// Every image under a folder, without labels.
    Plain { root: PathBuf },
    /// IDX files (MNIST, Fashion-MNIST), gzipped or not.
    Idx {
        #[arg(long)]
        images: PathBuf,
        #[arg(long)]
        labels: PathBuf,
        /// Images of the validation split (with --val-labels).
        #[arg(long, requires = "val_labels")]
        val_images: Option<PathBuf>,
        #[arg(long, requires = "val_images")]
        val_labels: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum EncodingArg {
    Raw,
    Jpeg,
}

#[derive(Args)]
struct Opts {
    /// Output folder (created if missing; a rerun with the same settings resumes).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// raw: decoded pixels, fastest to read; jpeg: re-encoded, ~10x smaller.
    #[arg(long, value_enum, default_value = "jpeg", global = true)]
    encoding: EncodingArg,
    /// raw: side of the stored square (default 256); jpeg: largest side (default 512).
    #[arg(long, global = true)]
    side: Option<u32>,
    /// JPEG quality, 1 to 100.
    #[arg(long, default_value_t = 90, global = true)]
    quality: u32,
    /// Records per shard.
    #[arg(long, default_value_t = 1024, global = true)]
    shard_size: usize,
    /// Fraction of each class held out as the `val` split (class folders only).
    #[arg(long, default_value_t = 0.0, global = true)]
    val_fraction: f64,
    /// Seed of the validation split and of the stored order.
    #[arg(long, default_value_t = 0, global = true)]
    seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// No progress bar.
    #[arg(long, global = true)]
    quiet: bool,
}

fn main() {
    // Errors are printed as one chain of causes (no backtrace): they are about the user's inputs.
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let o = &cli.opts;
    let Some(out) = &o.out else { bail!("--out FOLDER is required") };
    let (source, kind, described) = match &cli.source {
        SourceCmd::Folder { root } => (Source::Folder { root: existing(root)? }, "folder", root.display().to_string()),
        SourceCmd::Plain { root } => (Source::Plain { root: existing(root)? }, "plain", root.display().to_string()),
        SourceCmd::Idx { images, labels, val_images, val_labels } => {
            let val = match (val_images, val_labels) {
                (Some(i), Some(l)) => Some((existing(i)?, existing(l)?)),
                _ => None,
            };
            let src = Source::Idx { images: existing(images)?, labels: existing(labels)?, val };
            (src, "idx", images.display().to_string())
        }
    };
    if o.val_fraction > 0.0 && kind != "folder" {
        bail!("--val-fraction applies to class folders only");
    }
    let encoding = match o.encoding {
        EncodingArg::Raw => Encoding::Raw,
        EncodingArg::Jpeg => Encoding::Jpeg,
    };
    let settings = PrepSettings {
        source_kind: kind.into(),
        source: described,
        encoding,
        side: o.side.unwrap_or(if encoding == Encoding::Raw { 256 } else { 512 }),
        quality: if encoding == Encoding::Raw { 0 } else { o.quality },
        shard_size: o.shard_size,
        val_fraction: o.val_fraction,
        seed: o.seed,
    };
    if let Some(n) = o.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().context("cannot start worker threads")?;
    }
    let start = std::time::Instant::now();
    let summary = run_prep(&source, out, &settings, !o.quiet)?;
    let secs = start.elapsed().as_secs_f64();
    for split in &summary.manifest.splits {
        eprintln!("{}: {} records in {} shards", split.name, split.records, split.shards.len());
    }
    let records: u64 = summary.manifest.splits.iter().map(|s| s.records).sum();
    eprintln!(
        "{} shards written, {} kept from an earlier run; {:.1} s, {:.0} images/s",
        summary.shards_written,
        summary.shards_kept,
        secs,
        records as f64 / secs
    );
    if !summary.skipped.is_empty() {
        eprintln!("{} inputs skipped, listed in {}", summary.skipped.len(), out.join(REPORT_NAME).display());
    }
    Ok(())
}

fn existing(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.exists() {
        bail!("{}: no such file or folder", path.display());
    }
    Ok(path.to_path_buf())
}
