//! Where the cls token looks: the last encoder block's attention from cls to every token, per
//! head, and pictures of it laid over the image.

use std::io;
use std::path::Path;

use autograd::{no_grad, Var};
use image::{Rgb, RgbImage};
use tensor::{DType, Tensor};

use super::png::{enlarge, grid, save_png, tile_scale, to_rgb};
use crate::model::Cae;

/// Weight of the heat colour over the image in an overlay.
const HEAT_ALPHA: f32 = 0.6;

/// The encoder's input tokens for `images` [B, C, S, S]: cls then every patch, with positions
/// (the first steps of `Encoder::forward`): [B, 1 + N, D].
pub fn embed_tokens(model: &Cae, images: &Tensor) -> Var {
    model.encoder.embed(&Var::constant(images.clone()), None)
}

/// The last encoder block's attention of the cls token over all tokens (cls first, then the
/// patches), per head: [B, H, 1 + N], each head's row summing to 1. Computed as the block's
/// attention does: norm1, then `qkv` with `q_bias`/`v_bias` (k has none), softmax(q·kᵀ/√Dh).
pub fn cls_attention(model: &Cae, images: &Tensor) -> Tensor {
    no_grad(|| {
        let blocks = &model.encoder.blocks;
        let (last, before) = blocks.split_last().expect("the encoder has at least one block");
        let mut x = embed_tokens(model, images); // [B, T, D], T = 1 + N
        for block in before {
            x = block.forward(&x, None);
        }
        let h = last.norm1.forward(&x); // [B, T, D]
        let attn = &last.attn;
        let (b, t, d, heads) = (h.dim(0), h.dim(1), h.dim(2), attn.heads);
        let k_bias = Var::constant(Tensor::zeros([d], h.dtype()));
        let bias = Var::concat(&[attn.q_bias.var(), k_bias, attn.v_bias.var()], 0); // [3D]
        let qkv = h.linear(&attn.qkv.weight.var(), Some(&bias)).value().clone(); // [B, T, 3D]
        let qkv = qkv.reshape([b, t, 3, heads, d / heads]).permute(&[2, 0, 3, 1, 4]); // [3, B, H, T, Dh]
        let q_cls = qkv.narrow(0, 0, 1).squeeze(0).narrow(2, 0, 1); // [B, H, 1, Dh]
        let k = qkv.narrow(0, 1, 1).squeeze(0); // [B, H, T, Dh]
        let scale = 1.0 / ((d / heads) as f64).sqrt();
        let scores = q_cls.matmul(&k.transpose(-1, -2)).mul_scalar(scale); // [B, H, 1, T]
        scores.softmax(-1).squeeze(2) // [B, H, T]
    })
}

/// The 'hot' colour ramp: black → red → yellow → white as `v` goes 0 → 1.
fn hot(v: f32) -> [f32; 3] {
    [(3.0 * v).clamp(0.0, 1.0), (3.0 * v - 1.0).clamp(0.0, 1.0), (3.0 * v - 2.0).clamp(0.0, 1.0)]
}

/// `img` with a per-patch heat map laid over it: `weights` [N] over a grid of `patch`-pixel patches,
/// stretched so the smallest is cold and the largest full heat (an untrained model attends almost
/// uniformly, and scaling by the maximum alone would paint it all hot); nearest upsampling.
fn overlay(img: &RgbImage, weights: &[f32], patch: u32) -> RgbImage {
    let max = weights.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let min = weights.iter().copied().fold(f32::INFINITY, f32::min);
    let range = (max - min).max(f32::MIN_POSITIVE);
    let cols = img.width() / patch;
    RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let heat = hot((weights[((y / patch) * cols + x / patch) as usize] - min) / range);
        let px = img.get_pixel(x, y).0;
        Rgb(std::array::from_fn(|c| {
            ((1.0 - HEAT_ALPHA) * px[c] as f32 + HEAT_ALPHA * 255.0 * heat[c]).round().clamp(0.0, 255.0) as u8
        }))
    })
}

/// The attention grid, one row per image: image | head-averaged cls attention over the patches |
/// each head's. The cls token's attention to itself is left out of the maps.
pub fn attention_grid(model: &Cae, images: &Tensor) -> RgbImage {
    let attn = cls_attention(model, images).to_dtype(DType::F32); // [B, H, 1 + N]
    let (heads, t) = (attn.dim(1), attn.dim(2));
    let mean = attn.mean(&[1], false).to_vec::<f32>(); // [B, 1 + N]
    let per_head = attn.contiguous().to_vec::<f32>();
    let (p, k) = (model.config.patch_size as u32, tile_scale(model.config.image_size));
    let rows: Vec<Vec<RgbImage>> = to_rgb(images)
        .into_iter()
        .enumerate()
        .map(|(i, img)| {
            let mut row = vec![img.clone(), overlay(&img, &mean[i * t + 1..(i + 1) * t], p)];
            for h in 0..heads {
                let at = (i * heads + h) * t;
                row.push(overlay(&img, &per_head[at + 1..at + t], p));
            }
            row.iter().map(|tile| enlarge(tile, k)).collect()
        })
        .collect();
    grid(&rows)
}

/// Writes `attention_grid` as a PNG file.
pub fn attention_png(model: &Cae, images: &Tensor, path: &Path) -> io::Result<()> {
    save_png(&attention_grid(model, images), path)
}
