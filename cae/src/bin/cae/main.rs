//! `cae`: pre-train, probe and picture Context Autoencoders.
//!
//! ```text
//! cae pretrain --config configs/quickstart.toml [--set optim.lr=1e-3 …] [--resume]
//! cae probe    --checkpoint runs/quickstart [--random-init] --data shards/fashion-mnist
//! cae viz      --checkpoint runs/quickstart --data shards/fashion-mnist
//! cae info     --config configs/cae_base_800ep.toml   (or --preset base)
//! ```

mod info;
mod pretrain;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pretrain { config, set, resume, quiet } => pretrain::run(&config, &set, resume, !quiet),
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
