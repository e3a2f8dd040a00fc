//! Decoding and prep-time transforms on generated images: grayscale, CMYK, EXIF rotation, PNG,
//! damaged and foreign files, and the geometry of the raw and JPEG records.

use fast_image_resize::Resizer;

use crate::image_decode::{decode_rgb, DecodeError, RgbImage};
use crate::prep_transform::{encode_jpeg, fitted_size, to_jpeg, to_raw};

fn jpeg(pixels: &[u8], w: u16, h: u16, color: jpeg_encoder::ColorType, app1: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 95);
    if let Some(seg) = app1 {
        enc.add_app_segment(1, seg).unwrap();
    }
    enc.encode(pixels, w, h, color).unwrap();
    out
}

/// An APP1 Exif segment holding only the orientation tag (little-endian TIFF, one IFD entry).
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut s = b"Exif\0\0II*\0".to_vec();
    s.extend(8u32.to_le_bytes()); // offset of the first IFD
    s.extend(1u16.to_le_bytes()); // one entry
    s.extend(0x0112u16.to_le_bytes()); // Orientation
    s.extend(3u16.to_le_bytes()); // SHORT
    s.extend(1u32.to_le_bytes()); // count
    s.extend(value.to_le_bytes());
    s.extend([0, 0]); // value padding to 4 bytes
    s.extend(0u32.to_le_bytes()); // no next IFD
    s
}

fn pixel(img: &RgbImage, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * img.width + x) * 3) as usize;
    img.pixels[i..i + 3].try_into().unwrap()
}

fn near(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
    a.iter().zip(b).all(|(&x, y)| (x as i32 - y as i32).abs() <= tol)
}

/// 32×16, left half red, right half blue.
fn red_blue() -> Vec<u8> {
    (0..16).flat_map(|_| (0..32).flat_map(|x| if x < 16 { [255, 0, 0] } else { [0, 0, 255] })).collect()
}

#[test]
fn rgb_jpeg_decodes() {
    let img = decode_rgb(&jpeg(&red_blue(), 32, 16, jpeg_encoder::ColorType::Rgb, None)).unwrap();
    assert_eq!((img.width, img.height, img.pixels.len()), (32, 16, 32 * 16 * 3));
    assert!(near(pixel(&img, 2, 8), [255, 0, 0], 40), "{:?}", pixel(&img, 2, 8));
    assert!(near(pixel(&img, 29, 8), [0, 0, 255], 40), "{:?}", pixel(&img, 29, 8));
}

#[test]
fn grayscale_jpeg_becomes_rgb() {
    let gray: Vec<u8> = (0..16 * 16).map(|i| (i % 16 * 16) as u8).collect();
    let img = decode_rgb(&jpeg(&gray, 16, 16, jpeg_encoder::ColorType::Luma, None)).unwrap();
    assert_eq!(img.pixels.len(), 16 * 16 * 3);
    assert!(img.pixels.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]));
    assert!(pixel(&img, 15, 0)[0] > 200 && pixel(&img, 0, 0)[0] < 40);
}

#[test]
fn cmyk_jpeg_becomes_rgb() {
    // Pure cyan ink, no black: red is absorbed, green and blue pass.
    let cmyk: Vec<u8> = (0..16 * 16).flat_map(|_| [255, 0, 0, 0]).collect();
    let img = decode_rgb(&jpeg(&cmyk, 16, 16, jpeg_encoder::ColorType::Cmyk, None)).unwrap();
    assert_eq!(img.pixels.len(), 16 * 16 * 3);
    assert!(near(pixel(&img, 8, 8), [0, 255, 255], 40), "{:?}", pixel(&img, 8, 8));
}

#[test]
fn exif_orientation_is_applied() {
    // Orientation 6: the stored image must be turned 90° clockwise to be upright. Stored 32×16 with
    // red on the left; upright it is 16×32 with red on top.
    let seg = exif_orientation(6);
    let img = decode_rgb(&jpeg(&red_blue(), 32, 16, jpeg_encoder::ColorType::Rgb, Some(&seg))).unwrap();
    assert_eq!((img.width, img.height), (16, 32));
    assert!(near(pixel(&img, 8, 2), [255, 0, 0], 40), "{:?}", pixel(&img, 8, 2));
    assert!(near(pixel(&img, 8, 29), [0, 0, 255], 40), "{:?}", pixel(&img, 8, 29));
}

#[test]
fn png_decodes() {
    let rgb = image::RgbImage::from_raw(32, 16, red_blue()).unwrap();
    let mut png = Vec::new();
    rgb.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let img = decode_rgb(&png).unwrap();
    assert_eq!(img.pixels, red_blue());
}

#[test]
fn damaged_and_foreign_files_are_refused_with_a_reason() {
    let full = jpeg(&red_blue(), 32, 16, jpeg_encoder::ColorType::Rgb, None);
    for cut in [full.len() - 2, full.len() / 2, 200, 20] {
        let err = decode_rgb(&full[..cut]).unwrap_err();
        assert!(matches!(err, DecodeError::TruncatedJpeg | DecodeError::Damaged(_)), "cut at {cut}: {err}");
    }
    assert_eq!(decode_rgb(&full[..full.len() / 2]).unwrap_err(), DecodeError::TruncatedJpeg);
    assert!(matches!(decode_rgb(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"), Err(DecodeError::Unsupported(_))));
    assert_eq!(decode_rgb(b"Thumbs database, not a picture"), Err(DecodeError::NotAnImage));
    assert_eq!(decode_rgb(b""), Err(DecodeError::NotAnImage));
}

#[test]
fn a_size_field_claiming_a_huge_image_is_refused_before_decoding() {
    // The frame header (SOF, FF C0 or FF C2) holds height and width after its length and precision.
    let mut bytes = jpeg(&red_blue(), 32, 16, jpeg_encoder::ColorType::Rgb, None);
    let sof = bytes.windows(2).position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2)).expect("a frame header");
    bytes[sof + 5..sof + 9].copy_from_slice(&[0x4E, 0x20, 0x4E, 0x20]); // 20000 × 20000
    assert_eq!(decode_rgb(&bytes), Err(DecodeError::TooLarge(20000, 20000)));
}

#[test]
fn raw_record_is_the_centre_square() {
    // 300×100: red | green | blue thirds. The centre square is the green third.
    let pixels = (0..100)
        .flat_map(|_| {
            (0..300).flat_map(|x| match x / 100 {
                0 => [255, 0, 0],
                1 => [0, 255, 0],
                _ => [0, 0, 255],
            })
        })
        .collect();
    let img = RgbImage { width: 300, height: 100, pixels };
    let raw = to_raw(&img, 50, &mut Resizer::new());
    assert_eq!(raw.len(), 50 * 50 * 3);
    let out = RgbImage { width: 50, height: 50, pixels: raw };
    for (x, y) in [(2, 0), (47, 0), (25, 25), (2, 49), (47, 49)] {
        assert_eq!(pixel(&out, x, y), [0, 255, 0], "at ({x}, {y})");
    }
    // At the crop's edge the bicubic support reaches the red and blue thirds, as in torchvision's
    // resize-then-crop: a little bleeds in, but the pixel stays green.
    assert!(near(pixel(&out, 0, 25), [0, 255, 0], 40), "{:?}", pixel(&out, 0, 25));
    assert!(near(pixel(&out, 49, 25), [0, 255, 0], 40), "{:?}", pixel(&out, 49, 25));
}

#[test]
fn jpeg_record_fits_the_largest_side() {
    assert_eq!(fitted_size(1000, 500, 512), (512, 256));
    assert_eq!(fitted_size(333, 1000, 512), (170, 512)); // 170.5 rounds down: 333 * 0.512 = 170.496
    assert_eq!(fitted_size(100, 50, 512), (100, 50));
    let img = RgbImage { width: 640, height: 480, pixels: vec![128; 640 * 480 * 3] };
    let out = decode_rgb(&to_jpeg(&img, 320, 90, &mut Resizer::new())).unwrap();
    assert_eq!((out.width, out.height), (320, 240));
    assert!(out.pixels.iter().all(|&v| (v as i32 - 128).abs() <= 2));
    let small = decode_rgb(&encode_jpeg(&img.pixels, 640, 480, 90)).unwrap();
    assert_eq!((small.width, small.height), (640, 480));
}
