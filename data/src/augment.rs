//! The per-image transforms of the loader, as CAE pre-trains (CAE_SPEC.md, "Data augmentation"):
//! RandomResizedCrop (scale (0.08, 1), ratio (3/4, 4/3)) resized bicubic to 224, horizontal flip
//! with p = 0.5, ImageNet normalisation, f32 CHW out; optionally a second view of the same crop and
//! flip at 112 with Lanczos for the tokenizer. And the evaluation transform: resize the shorter side,
//! crop the centre.
//!
//! Crops are sampled as torchvision's `RandomResizedCrop.get_params` does (ten tries, then a centre
//! crop with the ratio clamped), and resized with one resampling of the crop region (no
//! intermediate image), which equals crop-then-resize.

use fast_image_resize::{FilterType, Resizer};

use crate::prep_transform::resize_pixels;
use crate::rng::SplitMix64;

/// ImageNet channel means and standard deviations, RGB.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// RandomResizedCrop's range of crop area, as fractions of the image.
pub const CROP_SCALE: (f64, f64) = (0.08, 1.0);
/// RandomResizedCrop's range of crop aspect ratios (width / height).
pub const CROP_RATIO: (f64, f64) = (3.0 / 4.0, 4.0 / 3.0);
/// Tries at a random crop before falling back to the centre crop (torchvision's number).
const CROP_TRIES: usize = 10;

/// A crop region in source pixels: left, top, width, height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crop {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

/// Samples a RandomResizedCrop region of a `width × height` image.
pub fn random_resized_crop(width: u32, height: u32, rng: &mut SplitMix64) -> Crop {
    let area = width as f64 * height as f64;
    let (log_lo, log_hi) = (CROP_RATIO.0.ln(), CROP_RATIO.1.ln());
    for _ in 0..CROP_TRIES {
        let target = area * (CROP_SCALE.0 + (CROP_SCALE.1 - CROP_SCALE.0) * rng.next_f64());
        let ratio = (log_lo + (log_hi - log_lo) * rng.next_f64()).exp();
        let w = (target * ratio).sqrt().round() as u32;
        let h = (target / ratio).sqrt().round() as u32;
        if 0 < w && w <= width && 0 < h && h <= height {
            let top = rng.below((height - h + 1) as u64) as u32;
            let left = rng.below((width - w + 1) as u64) as u32;
            return Crop { left, top, width: w, height: h };
        }
    }
    // Fallback: the largest centre crop whose ratio lies in the allowed range.
    let in_ratio = width as f64 / height as f64;
    let (w, h) = if in_ratio < CROP_RATIO.0 {
        (width, ((width as f64 / CROP_RATIO.0).round() as u32).min(height))
    } else if in_ratio > CROP_RATIO.1 {
        (((height as f64 * CROP_RATIO.1).round() as u32).min(width), height)
    } else {
        (width, height)
    };
    Crop { left: (width - w) / 2, top: (height - h) / 2, width: w, height: h }
}

/// Resizes `crop` of an RGB image to `size × size` with `filter` and writes it normalised, CHW,
/// mirrored if `flip`, into `out` (`3 * size * size` floats).
#[allow(clippy::too_many_arguments)] // image, crop, output geometry, filter, flip, scratch
pub fn crop_resize_normalize(
    pixels: &[u8],
    width: u32,
    height: u32,
    crop: (f64, f64, f64, f64),
    size: u32,
    filter: FilterType,
    flip: bool,
    resizer: &mut Resizer,
    out: &mut [f32],
) {
    let rgb = resize_pixels(pixels, width, height, crop, size, size, filter, resizer);
    normalize_chw(&rgb, size as usize, flip, out);
}

/// u8 HWC RGB (`side × side`) → f32 CHW, `(x / 255 - mean) / std`, mirrored left-right if `flip`.
pub fn normalize_chw(rgb: &[u8], side: usize, flip: bool, out: &mut [f32]) {
    assert_eq!(out.len(), 3 * side * side, "output must hold 3 x {side} x {side} floats");
    let plane = side * side;
    // (x / 255 - m) / s = x * scale + bias, with scale = 1 / (255 s) and bias = -m / s.
    let scale: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * IMAGENET_STD[c]));
    let bias: [f32; 3] = std::array::from_fn(|c| -IMAGENET_MEAN[c] / IMAGENET_STD[c]);
    // One plane at a time, one row at a time: contiguous stores the compiler can vectorise.
    for c in 0..3 {
        let (sc, bc) = (scale[c], bias[c]);
        for (y, row) in rgb.chunks_exact(side * 3).enumerate() {
            let dst = &mut out[c * plane + y * side..c * plane + (y + 1) * side];
            let pixels = row.chunks_exact(3);
            if flip {
                dst.iter_mut().zip(pixels.rev()).for_each(|(d, p)| *d = p[c] as f32 * sc + bc);
            } else {
                dst.iter_mut().zip(pixels).for_each(|(d, p)| *d = p[c] as f32 * sc + bc);
            }
        }
    }
}

/// The evaluation crop: the centre square that, after resizing the shorter side to `resize`, is
/// `crop` pixels wide (torchvision's `Resize(resize)` + `CenterCrop(crop)`), in source pixels.
pub fn center_crop_region(width: u32, height: u32, resize: u32, crop: u32) -> (f64, f64, f64, f64) {
    let short = width.min(height) as f64;
    let side = short * crop as f64 / resize as f64;
    ((width as f64 - side) / 2.0, (height as f64 - side) / 2.0, side, side)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_lie_inside_with_allowed_area_and_ratio() {
        let mut rng = SplitMix64::new(5);
        for (w, h) in [(500, 375), (256, 256), (28, 28), (1000, 100), (3, 900)] {
            for _ in 0..500 {
                let c = random_resized_crop(w, h, &mut rng);
                assert!(c.width > 0 && c.height > 0);
                assert!(c.left + c.width <= w && c.top + c.height <= h, "{c:?} outside {w}x{h}");
            }
        }
        // On a square image the first try almost always succeeds: area and ratio stay in range
        // (up to rounding to whole pixels).
        for _ in 0..500 {
            let c = random_resized_crop(1000, 1000, &mut rng);
            let area = (c.width * c.height) as f64 / 1e6;
            let ratio = c.width as f64 / c.height as f64;
            assert!((0.079..=1.0).contains(&area), "area {area}");
            assert!((0.74..=1.34).contains(&ratio), "ratio {ratio}");
        }
    }

    #[test]
    fn normalize_flips_and_standardises() {
        // 2×2: left column black, right column white.
        let rgb = [0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255];
        let mut out = [0f32; 12];
        normalize_chw(&rgb, 2, false, &mut out);
        assert!((out[0] - (-IMAGENET_MEAN[0] / IMAGENET_STD[0])).abs() < 1e-6);
        assert!((out[1] - (1.0 - IMAGENET_MEAN[0]) / IMAGENET_STD[0]).abs() < 1e-5);
        let mut flipped = [0f32; 12];
        normalize_chw(&rgb, 2, true, &mut flipped);
        assert_eq!((flipped[0], flipped[1]), (out[1], out[0]));
        assert_eq!(flipped[8 + 3], out[8 + 2], "blue plane, second row, mirrored");
    }

    #[test]
    fn eval_crop_is_centred() {
        assert_eq!(center_crop_region(256, 256, 256, 224), (16.0, 16.0, 224.0, 224.0));
        let (l, t, w, h) = center_crop_region(512, 256, 256, 224);
        assert_eq!((l, t, w, h), (144.0, 16.0, 224.0, 224.0));
    }
}
