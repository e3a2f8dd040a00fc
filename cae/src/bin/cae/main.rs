//! `cae`: pre-train, probe and picture Context Autoencoders.
//!
//! ```text
//! cae pretrain --config configs/quickstart.toml [--set optim.lr=1e-3 …] [--resume]
//! cae probe    --checkpoint runs/quickstart [--random-init] --data shards/fashion-mnist
//! cae viz      --checkpoint runs/quickstart --data shards/fashion-mnist
//! cae info     --config configs/cae_base_800ep.toml   (or --preset base)
//! ```

mod info;
mod model_io;
mod pretrain;
mod probe;
mod viz;

use std::path::PathBuf;
use std::process::ExitCode;

use cae::probe::Pooling;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "cae", version, about = "Context Autoencoder pre-training, probing and pictures")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pre-train a CAE from a config file, writing checkpoints, a log and a loss curve.
    Pretrain {
        /// The run's TOML config (see configs/).
        #[arg(long)]
        config: PathBuf,
        /// Override a config value: section.key=value (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Continue from the newest checkpoint in train.out_dir.
        #[arg(long)]
        resume: bool,
        /// No progress bar; print a line per checkpoint instead.
        #[arg(long)]
        quiet: bool,
    },
    /// Linear-probe and k-NN accuracy of a checkpoint's encoder (frozen features).
    Probe {
        /// A run folder (its newest checkpoint) or a checkpoint folder.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Prepared data (default: the run's data.path).
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value = "train")]
        train_split: String,
        #[arg(long, default_value = "val")]
        val_split: String,
        /// Encode at most this many training images (a seeded random subset).
        #[arg(long)]
        train_limit: Option<usize>,
        /// Encode at most this many held-out images (a seeded random subset).
        #[arg(long)]
        val_limit: Option<usize>,
        /// Features: the cls token after the final norm (the spec's), or the mean of the patch tokens.
        #[arg(long, value_enum, default_value = "cls")]
        pooling: PoolingArg,
        /// Also probe a random-init encoder of the same architecture, made with this seed.
        #[arg(long)]
        random_seed: Option<u64>,
        #[arg(long)]
        quiet: bool,
    },
    /// Pictures: reconstructions, the alignment picture and attention maps.
    Viz {
        /// A run folder (its newest checkpoint) or a checkpoint folder.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Prepared data (default: the run's data.path).
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value = "val")]
        split: String,
        /// Images (rows) per picture.
        #[arg(long, default_value_t = 8)]
        count: usize,
        /// Output folder (default: the checkpoint's pictures/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed of the image choice and the masks.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Architecture, parameter counts and FLOPs per image of a config.
    Info {
        /// A run config (its [model] section is used).
        #[arg(long, conflicts_with = "preset")]
        config: Option<PathBuf>,
        /// Or a preset: tiny, small, base, large.
        #[arg(long)]
        preset: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PoolingArg {
    Cls,
    Mean,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pretrain { config, set, resume, quiet } => pretrain::run(&config, &set, resume, !quiet),
        Command::Probe {
            checkpoint,
            data,
            train_split,
            val_split,
            train_limit,
            val_limit,
            pooling,
            random_seed,
            quiet,
        } => probe::run(&probe::ProbeArgs {
            checkpoint,
            data,
            train_split,
            val_split,
            train_limit,
            val_limit,
            pooling: match pooling {
                PoolingArg::Cls => Pooling::Cls,
                PoolingArg::Mean => Pooling::MeanPatches,
            },
            random_seed,
            progress: !quiet,
        }),
        Command::Viz { checkpoint, data, split, count, out, seed } => {
            viz::run(&checkpoint, data.as_deref(), &split, count, out.as_deref(), seed)
        }
        Command::Info { config, preset } => info::run(config.as_deref(), preset.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
