// The inputs of the whole-model parity cases, rebuilt identically (seeded) by the exporter
// (examples/export_parity_inputs.rs) and by the test (tests/cae_parity.rs).

use cae::masking::{batch_masks, MaskSpec};
use cae::{Cae, CaeConfig, Target};
use tensor::{DType, Tensor};

pub const BATCH: usize = 2;
pub const CASES: [&str; 2] = ["tiny32", "tiny224"];

/// The model (seeded init), images, mask and token ids of a case.
pub fn parity_case(name: &str) -> (Cae, Tensor, Tensor, Tensor) {
    let cfg = match name {
        // CAE-Tiny on 32×32 images with 4×4 patches (8×8 grid), pixel target, half masked.
        "tiny32" => {
            CaeConfig { image_size: 32, patch_size: 4, num_masked: 32, target: Target::Pixels, ..CaeConfig::tiny() }
        }
        // CAE-Tiny as the spec runs it: 224×224, 16×16 patches, 98 of 196 masked, 8192 tokens.
        "tiny224" => CaeConfig::tiny(),
        other => panic!("no parity case {other}"),
    };
    let grid = cfg.grid();
    let images = Tensor::rand_uniform([BATCH, cfg.in_chans, cfg.image_size, cfg.image_size], 0.0, 1.0, DType::F32, 11);
    let mask = batch_masks(&MaskSpec::new(grid, grid, cfg.num_masked), BATCH, 12, true);
    let vocab = match cfg.target {
        Target::Tokens { vocab } => vocab,
        Target::Pixels => 1,
    };
    let ids = Tensor::rand_uniform([BATCH, grid * grid], 0.0, vocab as f64, DType::F64, 13).to_dtype(DType::I64);
    (Cae::new(cfg, 7), images, mask, ids)
}
