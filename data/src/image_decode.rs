//! Decoding an input file into RGB pixels, upright: JPEG (grayscale, YCbCr, CMYK/YCCK) and PNG,
//! with the EXIF orientation applied. Anything else, or a damaged file, is an error with a reason
//! that `prep` puts in its report.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

/// An 8-bit RGB image, rows top to bottom, `pixels.len() == width * height * 3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// Why a file could not be turned into an image (the caller adds the path).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("not a JPEG or PNG image")]
    NotAnImage,
    #[error("unsupported image format {0} (only JPEG and PNG are read)")]
    Unsupported(String),
    #[error("truncated JPEG: no end-of-image marker after the image data")]
    TruncatedJpeg,
    #[error("damaged image: {0}")]
    Damaged(String),
    #[error("empty image ({0}x{1})")]
    Empty(u32, u32),
    #[error("image of {0}x{1} pixels, more than {MAX_PIXELS} (a damaged size field, or not a photo)")]
    TooLarge(u32, u32),
}

/// Largest image decoded, in pixels (three bytes each once RGB): a damaged JPEG header can claim
/// 20000×20000 in a file of 600 bytes, and decoding it would take gigabytes for a black picture.
/// The limit is twice the size at which Pillow starts warning (89.5 M pixels).
pub const MAX_PIXELS: u64 = 178_956_970;

/// Decodes `bytes` (a whole file) into an upright RGB image.
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().expect("reading from memory cannot fail");
    match reader.format() {
        Some(ImageFormat::Jpeg) => check_jpeg_complete(bytes)?,
        Some(ImageFormat::Png) => {}
        Some(other) => return Err(DecodeError::Unsupported(format!("{other:?}"))),
        None => return Err(DecodeError::NotAnImage),
    }
    let damaged = |e: image::ImageError| DecodeError::Damaged(e.to_string());
    let mut decoder = reader.into_decoder().map_err(damaged)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(DecodeError::TooLarge(w, h));
    }
    let orientation = decoder.orientation().map_err(damaged)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(damaged)?;
    img.apply_orientation(orientation);
    let (width, height) = (img.width(), img.height());
    if width == 0 || height == 0 {
        return Err(DecodeError::Empty(width, height));
    }
    // to_rgb8 replicates grayscale, drops alpha and narrows 16-bit PNGs.
    let pixels = match img {
        DynamicImage::ImageRgb8(rgb) => rgb.into_raw(),
        other => other.to_rgb8().into_raw(),
    };
    Ok(RgbImage { width, height, pixels })
}

/// The JPEG decoder fills a cut-off scan with grey instead of failing, so truncation is found here:
/// walk the marker segments to the first scan, then require an end-of-image marker after it.
/// Entropy-coded data never contains FF D9, so a cut file has none there.
fn check_jpeg_complete(bytes: &[u8]) -> Result<(), DecodeError> {
    const SOS: u8 = 0xDA;
    const EOI: u8 = 0xD9;
    let mut at = 2; // after SOI
    let scan_start = loop {
        if at + 4 > bytes.len() {
            return Err(DecodeError::TruncatedJpeg);
        }
        if bytes[at] != 0xFF {
            return Err(DecodeError::Damaged(format!("JPEG marker expected at byte {at}")));
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        if marker == SOS {
            break at + 2 + len;
        }
        at += 2 + len;
    };
    let tail = bytes.get(scan_start..).unwrap_or(&[]);
    if tail.windows(2).rev().any(|w| w == [0xFF, EOI]) {
        Ok(())
    } else {
        Err(DecodeError::TruncatedJpeg)
    }
}
