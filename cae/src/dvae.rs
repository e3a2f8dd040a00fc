//! The DALL-E dVAE encoder: the tokenizer whose 8192-way codes are CAE's prediction targets.
//!
//! Architecture (OpenAI's released encoder, as the spec describes it): a 7×7 input convolution to
//! `n_hid` channels; four groups of `blocks_per_group` residual blocks, the groups widening to 1, 2,
//! 4 and 8 × `n_hid` and the first three followed by a 2×2 max-pool; then ReLU and a 1×1
//! convolution to `vocab` logits. A residual block computes `id(x) + (1/L²)·res(x)` with L the
//! total number of blocks, `id` a 1×1 convolution where the width changes (identity otherwise), and
//! `res` = ReLU, 3×3 conv to out/4 channels, ReLU, 3×3 conv, ReLU, 3×3 conv, ReLU, 1×1 conv to out.
//! Every convolution pads by (k − 1)/2. A 112×112 crop becomes a 14×14 grid of token ids.
//!
//! The weights are OpenAI's `encoder.pkl`, converted to safetensors with the documented script
//! (`scripts/convert_dalle_encoder.py`); names follow the original module tree, e.g.
//! `blocks.group_2.block_1.res_path.conv_1.w`.

use std::collections::HashMap;
use std::path::Path;

use safetensors::SafeTensors;
use tensor::{DType, Tensor};

use crate::checkpoint::CheckpointError;

/// Groups of residual blocks (widths 1, 2, 4, 8 × n_hid).
pub const GROUPS: usize = 4;

/// The sizes of a dVAE encoder (the released one: 256 hidden, 2 blocks per group, 3 channels, 8192).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DvaeConfig {
    pub n_hid: usize,
    pub blocks_per_group: usize,
    pub in_chans: usize,
    pub vocab: usize,
}

impl DvaeConfig {
    pub fn dalle() -> DvaeConfig {
        DvaeConfig { n_hid: 256, blocks_per_group: 2, in_chans: 3, vocab: 8192 }
    }

    /// Every weight name with its shape, in the order of the forward pass.
    pub fn weight_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        let mut conv = |name: String, o: usize, i: usize, k: usize| {
            out.push((format!("{name}.w"), vec![o, i, k, k]));
            out.push((format!("{name}.b"), vec![o]));
        };
        conv("blocks.input".into(), self.n_hid, self.in_chans, 7);
        let mut width = self.n_hid;
        for g in 1..=GROUPS {
            let out_w = self.n_hid << (g - 1);
            for blk in 1..=self.blocks_per_group {
                let name = format!("blocks.group_{g}.block_{blk}");
                let hid = out_w / 4;
                if width != out_w {
                    conv(format!("{name}.id_path"), out_w, width, 1);
                }
                conv(format!("{name}.res_path.conv_1"), hid, width, 3);
                conv(format!("{name}.res_path.conv_2"), hid, hid, 3);
                conv(format!("{name}.res_path.conv_3"), hid, hid, 3);
                conv(format!("{name}.res_path.conv_4"), out_w, hid, 1);
                width = out_w;
            }
        }
        conv("blocks.output.conv".into(), self.vocab, width, 1);
        out
    }
}

/// A dVAE encoder with its weights (forward only; it never trains).
pub struct DvaeEncoder {
    pub config: DvaeConfig,
    weights: HashMap<String, Tensor>,
}

impl DvaeEncoder {
    /// Random weights of the right shapes (tests and benchmarks; real targets need the real ones).
    pub fn random(config: DvaeConfig, seed: u64) -> DvaeEncoder {
        let weights = config
            .weight_shapes()
            .into_iter()
            .enumerate()
            .map(|(i, (name, shape))| {
                let fan_in: usize = shape[1..].iter().product::<usize>().max(1);
                let t = Tensor::randn(shape, 0.0, (1.0 / fan_in as f64).sqrt(), DType::F32, seed + i as u64);
                (name, t)
            })
            .collect();
        DvaeEncoder { config, weights }
    }

    /// Load converted weights, checking every name and shape the config implies.
    pub fn load(config: DvaeConfig, path: &Path) -> Result<DvaeEncoder, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|error| CheckpointError::Io { path: path.to_owned(), error })?;
        let file = SafeTensors::deserialize(&bytes)
            .map_err(|e| CheckpointError::Format { path: path.to_owned(), reason: e.to_string() })?;
        let mut report = crate::checkpoint::MismatchReport::default();
        let mut weights = HashMap::new();
        let wanted = config.weight_shapes();
        for (name, shape) in &wanted {
            match file.tensor(name) {
                Err(_) => report.missing.push(name.clone()),
                Ok(view) if view.shape() != shape.as_slice() => {
                    report.misshaped.push((name.clone(), view.shape().to_vec(), shape.clone()))
                }
                Ok(view) => {
                    weights.insert(name.clone(), crate::checkpoint::view_to_tensor(path, name, &view)?);
                }
            }
        }
        report.unexpected =
            file.names().into_iter().filter(|n| !wanted.iter().any(|(w, _)| w == *n)).map(str::to_owned).collect();
        report.unexpected.sort();
        if !report.missing.is_empty() || !report.unexpected.is_empty() || !report.misshaped.is_empty() {
            return Err(CheckpointError::Mismatch { path: path.to_owned(), report });
        }
        Ok(DvaeEncoder { config, weights })
    }

    fn conv(&self, x: &Tensor, name: &str) -> Tensor {
        let w = &self.weights[&format!("{name}.w")];
        let k = w.dims()[2];
        x.conv2d(w, Some(&self.weights[&format!("{name}.b")]), 1, (k - 1) / 2)
    }

    /// Logits [B, vocab, H/8, W/8] for images [B, C, H, W] already mapped to the dVAE's range.
    pub fn logits(&self, x: &Tensor) -> Tensor {
        let total_blocks = (GROUPS * self.config.blocks_per_group) as f64;
        let post_gain = 1.0 / (total_blocks * total_blocks);
        let mut x = self.conv(x, "blocks.input"); // [B, n_hid, H, W]
        for g in 1..=GROUPS {
            for blk in 1..=self.config.blocks_per_group {
                let name = format!("blocks.group_{g}.block_{blk}");
                let id = if self.weights.contains_key(&format!("{name}.id_path.w")) {
                    self.conv(&x, &format!("{name}.id_path"))
                } else {
                    x.clone()
                };
                let mut h = x.relu();
                for (i, conv) in ["conv_1", "conv_2", "conv_3", "conv_4"].iter().enumerate() {
                    if i > 0 {
                        h = h.relu();
                    }
                    h = self.conv(&h, &format!("{name}.res_path.{conv}"));
                }
                x = &id + &h.mul_scalar(post_gain);
            }
            if g < GROUPS {
                x = x.max_pool2d(2, 2); // halves H and W
            }
        }
        self.conv(&x.relu(), "blocks.output.conv")
    }

    /// Token ids i64 [B, (H/8)·(W/8)] (row-major over the grid) for images with values in [0, 1];
    /// applies the dVAE's input map x·0.8 + 0.1 first.
    pub fn tokens(&self, images: &Tensor) -> Tensor {
        let logits = self.logits(&images.mul_scalar(0.8).add_scalar(0.1)); // [B, V, h, w]
        let b = logits.dim(0);
        let ids = logits.argmax(1, false); // [B, h, w]
        ids.reshape([b, ids.numel() / b.max(1)])
    }
}
