//! FLOPs of a CAE training step, counted per layer (matrix products and attention; elementwise
//! work is ignored, as is usual). A multiply-add counts 2. The backward pass of a product costs
//! twice its forward, so a trained layer counts 3× its forward; the alignment branch runs forward
//! only.

use crate::config::{CaeConfig, Target};

/// Forward FLOPs of a self-attention block over `t` tokens of width `d`.
pub fn block_flops(t: f64, d: f64) -> f64 {
    let projections = 2.0 * t * d * (3.0 * d + d); // qkv, proj
    let attention = 2.0 * 2.0 * t * t * d; // q·kᵀ and attn·v
    let mlp = 2.0 * 2.0 * t * d * (4.0 * d); // fc1, fc2
    projections + attention + mlp
}

/// Forward FLOPs of a regressor block: `q` queries over `k` keys.
pub fn cross_block_flops(q: f64, k: f64, d: f64) -> f64 {
    2.0 * d * d * (q + k + k + q) + 2.0 * 2.0 * q * k * d + 2.0 * 2.0 * q * d * (4.0 * d)
}

/// Forward FLOPs of the parts of one image's step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepFlops {
    pub patch_embed: f64,
    pub encoder: f64,
    pub alignment: f64,
    pub regressor: f64,
    pub decoder: f64,
}

impl StepFlops {
    pub fn new(cfg: &CaeConfig) -> StepFlops {
        let (n, d) = (cfg.num_patches() as f64, cfg.dim as f64);
        let nm = cfg.num_masked as f64;
        let nv = n - nm;
        let head = match cfg.target {
            Target::Pixels => cfg.patch_dim() as f64,
            Target::Tokens { vocab } => vocab as f64,
        };
        StepFlops {
            patch_embed: 2.0 * n * cfg.patch_dim() as f64 * d,
            encoder: cfg.depth as f64 * block_flops(nv + 1.0, d),
            alignment: 2.0 * n * cfg.patch_dim() as f64 * d + cfg.depth as f64 * block_flops(nm + 1.0, d),
            regressor: cfg.regressor_depth as f64 * cross_block_flops(nm, nv + nm, d),
            decoder: cfg.decoder_depth as f64 * block_flops(nm, d) + 2.0 * nm * d * head,
        }
    }

    /// FLOPs of a whole training step for one image: trained parts 3×, alignment 1×.
    pub fn training_step(&self) -> f64 {
        3.0 * (self.patch_embed + self.encoder + self.regressor + self.decoder) + self.alignment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_24_td_squared_plus_attention() {
        assert_eq!(block_flops(10.0, 8.0), 24.0 * 10.0 * 64.0 + 4.0 * 100.0 * 8.0);
        // CAE-Base encoder over 99 visible tokens: about 17 GFLOP forward per image.
        let f = StepFlops::new(&CaeConfig::base());
        assert!((f.encoder / 1e9 - 16.9).abs() < 0.5, "{}", f.encoder / 1e9);
        assert!(f.training_step() > 3.0 * f.encoder);
    }
}
