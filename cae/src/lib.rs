//! `cae`: the Context Autoencoder (CAE) for masked image modelling, on `autograd` and `tensor`.
//!
//! - `config`: model sizes (tiny/small/base/large, or custom, at any image and patch size);
//! - `nn`: layers with the official CAE parameter names;
//! - `masking`: block-wise and random mask generators; `pos_embed`: fixed 2-D sin-cos positions;
//! - `model`: encoder, regressor, decoder, alignment and the loss;
//! - `checkpoint`: weights in safetensors, loading official checkpoints with a full mismatch report;
//! - `dvae`: the DALL-E tokenizer encoder (conv2d, residual blocks, max-pooling) for token targets;
//! - `optim`: AdamW with the spec's weight-decay groups;
//! - `flops`: FLOPs of a training step, counted per layer;
//! - `input`: loader batches as model inputs;
//! - `train`: the pre-training loop, its config file, schedule, log and checkpoints;
//! - `probe`: linear probe and k-NN on frozen features; `viz`: reconstructions, alignment and
//!   attention pictures.

pub mod checkpoint;
pub mod config;
pub mod dvae;
pub mod flops;
pub mod input;
pub mod masking;
pub mod model;
pub mod nn;
pub mod optim;
pub mod pos_embed;
pub mod probe;
pub mod train;
pub mod viz;

pub use checkpoint::{load_weights, save_weights, CheckpointError, LoadScope};
pub use config::{CaeConfig, Target};
pub use model::{Cae, CaeLosses, TargetValues};
