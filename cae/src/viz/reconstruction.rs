//! Pictures of what the decoder predicts, for models with the pixel target.
//!
//! The pixel target is each patch normalised by its own mean and standard deviation, so a
//! prediction carries no brightness or contrast of its own: it is shown with the statistics of the
//! original patch it replaces (as MAE's pictures do).

use std::io;
use std::path::Path;

use autograd::{no_grad, Var};
use image::RgbImage;
use tensor::{CmpOp, DType, Tensor};

use super::png::{enlarge, fill_patch, grid, save_png, tile_scale, to_rgb, MASK_GREY};
use crate::config::Target;
use crate::model::{Cae, PATCH_NORM_EPS};

fn require_pixels(model: &Cae) -> io::Result<()> {
    match model.config.target {
        Target::Pixels => Ok(()),
        t => Err(io::Error::new(io::ErrorKind::InvalidInput, format!("pictures need the pixel target, not {t:?}"))),
    }
}

/// Decoder outputs [B, Nm, head] for the masked patches of `images` [B, C, S, S] under `mask`
/// (u8 [B, N], 1 = masked): the steps of `Cae::forward` without the losses, drop path off.
pub fn predict_masked(model: &Cae, images: &Tensor, mask: &Tensor) -> Tensor {
    no_grad(|| {
        let masked = mask.mask_indices(); // [B, Nm]
        let visible = mask.to_dtype(DType::F32).compare_scalar(CmpOp::Eq, 0.0).mask_indices(); // [B, Nv]
        let (z_masked, pos_m) = model.regress(&Var::constant(images.clone()), &visible, &masked, None); // [B, Nm, D]
        model.decoder.forward(&z_masked, &pos_m).value().clone() // [B, Nm, head]
    })
}

/// Normalised-patch predictions [B, K, C·p·p] given the originals [B, K, C·p·p] → patches in image
/// space, using each original patch's mean and standard deviation.
fn unnormalize(pred: &Tensor, originals: &Tensor) -> Tensor {
    let mean = originals.mean(&[-1], true); // [B, K, 1]
    let std = originals.var(&[-1], 0, true).add_scalar(PATCH_NORM_EPS).sqrt(); // [B, K, 1]
    pred.mul(&std).add(&mean)
}

/// Patches [B, N, C·p·p] back to images [B, C, S, S] for `model`'s geometry.
fn to_images(model: &Cae, patches: &Tensor) -> Tensor {
    let c = &model.config;
    patches.unpatchify(c.patch_size, c.in_chans, c.grid(), c.grid())
}

/// `images` with the masked patches replaced by the decoder's predictions: [B, C, S, S].
pub fn reconstruct_masked(model: &Cae, images: &Tensor, mask: &Tensor) -> io::Result<Tensor> {
    require_pixels(model)?;
    let masked = mask.mask_indices(); // [B, Nm]
    let patches = images.patchify(model.config.patch_size); // [B, N, C·p·p]
    let pred = unnormalize(&predict_masked(model, images, mask), &patches.take_rows(&masked)); // [B, Nm, C·p·p]
    Ok(to_images(model, &patches.put_rows(&masked, &pred.to_dtype(patches.dtype()), false)))
}

/// The alignment picture's reconstruction: every patch through the encoder, the latents straight
/// into the decoder (no regressor), every patch predicted: [B, C, S, S].
pub fn reconstruct_all(model: &Cae, images: &Tensor) -> io::Result<Tensor> {
    require_pixels(model)?;
    let n = model.config.num_patches();
    let pred = no_grad(|| {
        let z = model.encoder.forward(&Var::constant(images.clone()), None, None); // [B, 1 + N, D]
        let pos = Var::constant(model.positions(images.dim(0), images.dtype())); // [B, N, D]
        model.decoder.forward(&z.narrow(1, 1, n), &pos).value().clone() // [B, N, C·p·p]
    });
    let patches = images.patchify(model.config.patch_size); // [B, N, C·p·p]
    Ok(to_images(model, &unnormalize(&pred, &patches)))
}

/// `tiles` enlarged for viewing.
fn enlarged(tiles: Vec<RgbImage>, side: usize) -> Vec<RgbImage> {
    let k = tile_scale(side);
    tiles.iter().map(|t| enlarge(t, k)).collect()
}

/// The reconstruction grid, one row per image: original | masked input (hidden patches grey) |
/// reconstruction (visible patches original, hidden ones predicted) | the predicted patches alone.
pub fn reconstruction_grid(model: &Cae, images: &Tensor, mask: &Tensor) -> io::Result<RgbImage> {
    let recon = to_rgb(&reconstruct_masked(model, images, mask)?);
    let (p, n) = (model.config.patch_size as u32, model.config.num_patches());
    let flags = mask.to_dtype(DType::U8).to_vec::<u8>();
    let mut rows = Vec::new();
    for (i, (orig, rec)) in to_rgb(images).into_iter().zip(recon).enumerate() {
        let (mut input, mut only) = (orig.clone(), rec.clone());
        for (j, &m) in flags[i * n..(i + 1) * n].iter().enumerate() {
            fill_patch(if m != 0 { &mut input } else { &mut only }, j, p, MASK_GREY);
        }
        rows.push(enlarged(vec![orig, input, rec, only], model.config.image_size));
    }
    Ok(grid(&rows))
}

/// Writes `reconstruction_grid` as a PNG file.
pub fn reconstruction_png(model: &Cae, images: &Tensor, mask: &Tensor, path: &Path) -> io::Result<()> {
    save_png(&reconstruction_grid(model, images, mask)?, path)
}

/// The alignment grid, one row per image: original | every patch reconstructed from the encoder's
/// latents of the full image by the decoder alone.
pub fn alignment_grid(model: &Cae, images: &Tensor) -> io::Result<RgbImage> {
    let recon = to_rgb(&reconstruct_all(model, images)?);
    let rows: Vec<Vec<RgbImage>> = to_rgb(images)
        .into_iter()
        .zip(recon)
        .map(|(orig, rec)| enlarged(vec![orig, rec], model.config.image_size))
        .collect();
    Ok(grid(&rows))
}

/// Writes `alignment_grid` as a PNG file.
pub fn alignment_png(model: &Cae, images: &Tensor, path: &Path) -> io::Result<()> {
    save_png(&alignment_grid(model, images)?, path)
}
