//! IDX files (MNIST, Fashion-MNIST): a big-endian header (zero, zero, type, dimension count, then
//! each dimension as u32) followed by the data. Gzipped files (as distributed) are read directly.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context};

/// Type code of unsigned bytes, the only element type of image and label files.
const IDX_U8: u8 = 0x08;

/// An IDX array of bytes.
#[derive(Debug, Clone)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads an IDX file of u8 elements, gunzipping it if it starts with the gzip magic.
pub fn read_idx(path: &Path) -> anyhow::Result<IdxArray> {
    let raw = std::fs::read(path).with_context(|| format!("{}: cannot read IDX file", path.display()))?;
    let bytes = if raw.starts_with(&[0x1F, 0x8B]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .with_context(|| format!("{}: damaged gzip stream", path.display()))?;
        out
    } else {
        raw
    };
    parse_idx(&bytes).with_context(|| format!("{}: not a valid IDX file", path.display()))
}

/// Parses IDX bytes (already decompressed).
pub fn parse_idx(bytes: &[u8]) -> anyhow::Result<IdxArray> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        bail!("bad magic");
    }
    if bytes[2] != IDX_U8 {
        bail!("element type 0x{:02x}, only unsigned bytes (0x08) are supported", bytes[2]);
    }
    let ndim = bytes[3] as usize;
    let data_start = 4 + 4 * ndim;
    if bytes.len() < data_start {
        bail!("header cut short");
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().expect("4 bytes")) as usize)
        .collect();
    let want = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let Some(want) = want else { bail!("dimensions {dims:?} overflow a byte count") };
    let have = bytes.len() - data_start;
    if have != want {
        bail!("dimensions {dims:?} need {want} data bytes, the file holds {have}");
    }
    Ok(IdxArray { dims, data: bytes[data_start..].to_vec() })
}

/// Reads an image file (`[N, H, W]`) and its label file (`[N]`) and checks they agree.
pub fn read_idx_pair(images: &Path, labels: &Path) -> anyhow::Result<(IdxArray, Vec<u32>)> {
    let imgs = read_idx(images)?;
    let labs = read_idx(labels)?;
    if imgs.dims.len() != 3 || imgs.dims[1] == 0 || imgs.dims[2] == 0 {
        bail!(
            "{}: expected [count, height, width] with images of at least 1×1, found {:?}",
            images.display(),
            imgs.dims
        );
    }
    if labs.dims.len() != 1 || labs.dims[0] != imgs.dims[0] {
        bail!("{}: {:?} labels for {} images in {}", labels.display(), labs.dims, imgs.dims[0], images.display());
    }
    Ok((imgs, labs.data.iter().map(|&l| l as u32).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_that_overflow_are_refused() {
        let mut b = vec![0, 0, 8, 3, 0, 0, 0, 4];
        b.extend([0x80, 0, 0, 0, 0x80, 0, 0, 0]); // 4 × 2^31 × 2^31
        assert!(parse_idx(&b).unwrap_err().to_string().contains("overflow"));
    }

    #[test]
    fn parses_and_rejects() {
        let mut b = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        b.extend([1, 2, 3, 4]);
        let a = parse_idx(&b).unwrap();
        assert_eq!((a.dims, a.data), (vec![2, 1, 2], vec![1, 2, 3, 4]));
        assert!(parse_idx(&b[..b.len() - 1]).unwrap_err().to_string().contains("need 4 data bytes"));
        assert!(parse_idx(b"PK\x03\x04").is_err());
    }
}
