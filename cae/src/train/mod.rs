//! Pre-training: the run config ([`config`]), the learning-rate schedule ([`schedule`]), training
//! checkpoints ([`state`]), the step log and its picture ([`log`], [`plot`]), and the loop
//! ([`trainer`]).

pub mod config;
pub mod log;
pub mod plot;
pub mod schedule;
pub mod state;
pub mod trainer;

pub use config::RunConfig;
pub use trainer::{pretrain, Outcome, PretrainOptions, Summary};
