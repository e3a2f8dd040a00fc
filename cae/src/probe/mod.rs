//! Evaluating a frozen encoder: features extracted once, then a linear probe and k-NN on them.
//!
//! - `features`: images → one vector per image (the cls token or the mean patch token, both after
//!   the encoder's final LayerNorm), from a dataset through the evaluation loader or from tensors;
//! - `linear`: the spec's linear probe (BatchNorm without affine, then a Linear layer) trained with
//!   SGD on the precomputed features;
//! - `knn`: weighted k-nearest-neighbour classification with cosine similarity.

mod features;
mod knn;
mod linear;

pub use features::{encode, extract_features, features_from_batches, Features, Pooling, EXTRACT_BATCH};
pub use knn::{knn_top1, KNN_K, KNN_TEMPERATURE};
pub use linear::{linear_probe, standardize, LinearProbeConfig, ProbeResult, Standardizer, BN_EPS};
