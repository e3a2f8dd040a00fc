//! Fixed 2-D sin-cos position embeddings, as CAE's encoder, regressor and decoder use them.
//!
//! For a patch in grid row r and column c, with D channels and ω_k = 1 / 10000^(k / (D/4)) for
//! k = 0 … D/4 − 1, the embedding is the concatenation [sin(r·ω), cos(r·ω), sin(c·ω), cos(c·ω)],
//! each part D/4 wide. Patches are numbered row-major (r·cols + c), like `Tensor::patchify`. The
//! cls token's position is all zeros and is not part of this table.

use tensor::{DType, Tensor};

/// The sin-cos temperature of the spec.
pub const TEMPERATURE: f64 = 10_000.0;

/// Position embeddings [rows·cols, dim] (f32) for a `rows × cols` patch grid.
pub fn sincos_2d(rows: usize, cols: usize, dim: usize) -> Tensor {
    assert!(dim.is_multiple_of(4), "2-D sin-cos position embeddings need a width divisible by 4, got {dim}");
    let quarter = dim / 4;
    let omega: Vec<f64> = (0..quarter).map(|k| 1.0 / TEMPERATURE.powf(k as f64 / quarter as f64)).collect();
    let mut table = Vec::with_capacity(rows * cols * dim);
    for r in 0..rows {
        for c in 0..cols {
            for pos in [r as f64, c as f64] {
                table.extend(omega.iter().map(|w| (pos * w).sin()));
                table.extend(omega.iter().map(|w| (pos * w).cos()));
            }
        }
    }
    Tensor::from_vec(table, [rows * cols, dim]).to_dtype(DType::F32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_the_spec() {
        let (rows, cols, dim) = (3, 5, 8);
        let t = sincos_2d(rows, cols, dim).to_vec::<f32>();
        assert_eq!(t.len(), rows * cols * dim);
        // Patch 0 is (0, 0): sines 0, cosines 1.
        assert_eq!(&t[..8], &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]);
        // Patch 7 is row 1, column 2; ω = [1, 1/100] for D/4 = 2.
        let p = &t[7 * dim..8 * dim];
        let want = [
            1f64.sin(),
            0.01f64.sin(),
            1f64.cos(),
            0.01f64.cos(),
            2f64.sin(),
            0.02f64.sin(),
            2f64.cos(),
            0.02f64.cos(),
        ];
        for (g, w) in p.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-7, "{p:?}");
        }
    }

    #[test]
    #[should_panic(expected = "divisible by 4")]
    fn width_must_split_in_four() {
        sincos_2d(2, 2, 6);
    }
}
