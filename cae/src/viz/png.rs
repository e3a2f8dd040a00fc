//! From model-space images to PNG files: undo the loader's normalisation, enlarge small images,
//! lay tiles out in a grid, write the file.

use std::io;
use std::path::Path;

use data::augment::{IMAGENET_MEAN, IMAGENET_STD};
use image::{imageops, ImageFormat, Rgb, RgbImage};
use tensor::{DType, Tensor};

/// Pixels between neighbouring tiles of a grid.
pub const GAP: u32 = 2;
/// Colour of the gaps between tiles.
const GAP_COLOUR: Rgb<u8> = Rgb([255, 255, 255]);
/// Smallest tile side worth looking at: smaller images are enlarged (nearest) to at least this.
pub const MIN_TILE_SIDE: usize = 96;
/// Colour of hidden patches in the pictures.
pub const MASK_GREY: Rgb<u8> = Rgb([128, 128, 128]);

/// Whole-number enlargement that brings an image of side `side` to at least `MIN_TILE_SIDE`.
pub fn tile_scale(side: usize) -> u32 {
    MIN_TILE_SIDE.div_ceil(side.max(1)).max(1) as u32
}

fn to_byte(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Loader-normalised images [B, C, S, S] back to RGB pictures. C = 3: (x·std + mean) per channel.
/// C = 1: the model saw the mean of the three normalised channels (`input::batch_images`), which
/// for a grey value v is v·mean(1/std) − mean(mean/std); that is inverted and shown as grey.
pub fn to_rgb(images: &Tensor) -> Vec<RgbImage> {
    let (b, c, h, w) = (images.dim(0), images.dim(1), images.dim(2), images.dim(3));
    assert!(c == 1 || c == 3, "pictures need 1 or 3 channels, got {c}");
    let values = images.to_dtype(DType::F32).contiguous().to_vec::<f32>();
    let plane = h * w;
    let inv_std_mean = IMAGENET_STD.iter().map(|s| 1.0 / s).sum::<f32>() / 3.0;
    let shift = IMAGENET_MEAN.iter().zip(IMAGENET_STD).map(|(m, s)| m / s).sum::<f32>() / 3.0;
    (0..b)
        .map(|i| {
            let img = &values[i * c * plane..(i + 1) * c * plane];
            RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let at = y as usize * w + x as usize;
                if c == 1 {
                    let g = to_byte((img[at] + shift) / inv_std_mean);
                    Rgb([g, g, g])
                } else {
                    Rgb(std::array::from_fn(|ch| to_byte(img[ch * plane + at] * IMAGENET_STD[ch] + IMAGENET_MEAN[ch])))
                }
            })
        })
        .collect()
}

/// `img` enlarged `factor` times, each pixel becoming a factor × factor square.
pub fn enlarge(img: &RgbImage, factor: u32) -> RgbImage {
    imageops::resize(img, img.width() * factor, img.height() * factor, imageops::FilterType::Nearest)
}

/// Paints patch `index` (row-major over a grid of `patch`-pixel patches) of `img` with `colour`.
pub fn fill_patch(img: &mut RgbImage, index: usize, patch: u32, colour: Rgb<u8>) {
    let cols = (img.width() / patch) as usize;
    let (top, left) = ((index / cols) as u32 * patch, (index % cols) as u32 * patch);
    for y in top..top + patch {
        for x in left..left + patch {
            img.put_pixel(x, y, colour);
        }
    }
}

/// Tiles of equal size laid out as `rows[r][c]`, `GAP` pixels apart (no border around the grid).
pub fn grid(rows: &[Vec<RgbImage>]) -> RgbImage {
    let first = rows.first().and_then(|r| r.first()).expect("a grid needs at least one tile");
    let (tw, th) = first.dimensions();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let n_rows = rows.len() as u32;
    let mut out = RgbImage::from_pixel(cols * (tw + GAP) - GAP, n_rows * (th + GAP) - GAP, GAP_COLOUR);
    for (r, row) in rows.iter().enumerate() {
        for (c, tile) in row.iter().enumerate() {
            assert_eq!(tile.dimensions(), (tw, th), "grid tiles must share one size");
            imageops::replace(&mut out, tile, (c as u32 * (tw + GAP)) as i64, (r as u32 * (th + GAP)) as i64);
        }
    }
    out
}

/// Writes `img` as a PNG file at `path`.
pub fn save_png(img: &RgbImage, path: &Path) -> io::Result<()> {
    img.save_with_format(path, ImageFormat::Png).map_err(|e| match e {
        image::ImageError::IoError(e) => e,
        other => io::Error::other(other),
    })
}
