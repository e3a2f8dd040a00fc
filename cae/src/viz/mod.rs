//! Pictures of a model at work, written as PNG grids with one row per image.
//!
//! - `png`: de-normalising loader images, enlarging small ones, grids, PNG files;
//! - `reconstruction`: masked-patch reconstructions, and the alignment picture (all patches
//!   encoded and decoded straight away), for the pixel target;
//! - `attention`: the last encoder block's cls-token attention as heat maps over the image.

mod attention;
mod png;
mod reconstruction;

pub use attention::{attention_grid, attention_png, cls_attention, embed_tokens};
pub use png::{enlarge, fill_patch, grid, save_png, tile_scale, to_rgb, GAP, MASK_GREY, MIN_TILE_SIDE};
pub use reconstruction::{
    alignment_grid, alignment_png, predict_masked, reconstruct_all, reconstruct_masked, reconstruction_grid,
    reconstruction_png,
};
