//! The prep-time transforms: a raw record (shorter side resized to S, centre S×S crop) and a JPEG
//! record (longer side shrunk to at most S, re-encoded at a given quality).
//!
//! Resampling is `fast_image_resize`'s convolution (SIMD, antialiased when shrinking like PIL);
//! its Catmull-Rom filter is PIL's bicubic (a = -0.5), which torchvision uses on PIL images.
//! Encoding is `jpeg-encoder`: baseline 4:2:0, faster than `image`'s own encoder.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::image_decode::RgbImage;

/// The resampling filter of prep-time resizes: PIL's bicubic.
const PREP_FILTER: FilterType = FilterType::CatmullRom;

/// Resizes the region (`left`, `top`, `width`, `height`) of `img`, in source pixels (fractions
/// allowed), to `out_w × out_h` with `filter`. Returns RGB bytes.
pub fn resize_region(
    img: &RgbImage,
    region: (f64, f64, f64, f64),
    out_w: u32,
    out_h: u32,
    filter: FilterType,
    resizer: &mut Resizer,
) -> Vec<u8> {
    resize_pixels(&img.pixels, img.width, img.height, region, out_w, out_h, filter, resizer)
}

/// [`resize_region`] on borrowed RGB bytes (a raw record straight from the memory map).
#[allow(clippy::too_many_arguments)] // an image, a region, a size, a filter and scratch: all needed
pub fn resize_pixels(
    pixels: &[u8],
    width: u32,
    height: u32,
    region: (f64, f64, f64, f64),
    out_w: u32,
    out_h: u32,
    filter: FilterType,
    resizer: &mut Resizer,
) -> Vec<u8> {
    let src = ImageRef::new(width, height, pixels, PixelType::U8x3).expect("pixels hold width*height*3 bytes");
    let mut dst = Image::new(out_w, out_h, PixelType::U8x3);
    let (left, top, w, h) = region;
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter)).crop(left, top, w, h);
    resizer.resize(&src, &mut dst, &options).expect("pixel types match and the crop lies inside the image");
    dst.into_vec()
}

/// A raw record: the centre square of `img`, resized to `side × side` (= resize the shorter side to
/// `side`, then centre-crop, with a single resampling).
pub fn to_raw(img: &RgbImage, side: u32, resizer: &mut Resizer) -> Vec<u8> {
    let short = img.width.min(img.height) as f64;
    let left = (img.width as f64 - short) / 2.0;
    let top = (img.height as f64 - short) / 2.0;
    if img.width == side && img.height == side {
        return img.pixels.clone();
    }
    resize_region(img, (left, top, short, short), side, side, PREP_FILTER, resizer)
}

/// The size a JPEG record gets: unchanged if its longer side fits `max_side`, else shrunk to it.
pub fn fitted_size(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= max_side {
        return (width, height);
    }
    let scale = max_side as f64 / long as f64;
    let fit = |x: u32| ((x as f64 * scale).round() as u32).clamp(1, max_side);
    (fit(width), fit(height))
}

/// A JPEG record: `img` shrunk to fit `max_side` and encoded at `quality` (1..=100).
pub fn to_jpeg(img: &RgbImage, max_side: u32, quality: u8, resizer: &mut Resizer) -> Vec<u8> {
    let (w, h) = fitted_size(img.width, img.height, max_side);
    let resized;
    let pixels = if (w, h) == (img.width, img.height) {
        &img.pixels
    } else {
        let region = (0.0, 0.0, img.width as f64, img.height as f64);
        resized = resize_region(img, region, w, h, PREP_FILTER, resizer);
        &resized
    };
    encode_jpeg(pixels, w, h, quality)
}

/// Encodes RGB bytes as a baseline JPEG.
pub fn encode_jpeg(rgb: &[u8], width: u32, height: u32, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    let (w, h) = (u16::try_from(width).expect("JPEG side < 65536"), u16::try_from(height).expect("JPEG side < 65536"));
    encoder.encode(rgb, w, h, jpeg_encoder::ColorType::Rgb).expect("encoding to memory cannot fail");
    out
}
