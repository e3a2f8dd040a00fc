//! Softmax forward and backward against the f64 reference, at ViT widths and awkward ones.
mod common;

use kernels::softmax::{self, Variant};

const SHAPES: [(usize, usize); 6] = [(1, 1), (3, 7), (5, 33), (9, 197), (2, 384), (2, 768)];

#[test]
fn forward_matches_reference_and_is_stable_for_large_logits() {
    let Some(gpu) = common::gpu() else { return };
    for (i, &(rows, cols)) in SHAPES.iter().enumerate() {
        // Offsets of 1e4 would overflow exp without the max subtraction.
        let x: Vec<f32> = common::values(rows * cols, i as u64, 8.0).iter().map(|v| v + 1e4).collect();
        let (dx, dy) = (gpu.upload(&x).unwrap(), gpu.alloc::<f32>(rows * cols).unwrap());
        softmax::forward(&gpu, &dy, &dx, rows, cols).unwrap();
        let got = dy.read().unwrap();
        // ex2.approx errs by 2^-22 relative; rounding of x - max near 1e4 adds ~1e-3 absolute to the
        // exponent, i.e. 1e-3 relative to each probability.
        common::assert_close(
            &format!("softmax {rows}x{cols}"),
            &got,
            &softmax::reference_forward(&x, cols),
            1e-6,
            2e-3,
        );
        for row in got.chunks(cols) {
            let sum: f32 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "softmax {rows}x{cols}: row sums to {sum}");
        }
    }
}

#[test]
fn both_variants_match_reference_at_moderate_logits() {
    let Some(gpu) = common::gpu() else { return };
    for v in [Variant::Naive, Variant::Warp] {
        for (i, &(rows, cols)) in SHAPES.iter().enumerate() {
            let x = common::values(rows * cols, 40 + i as u64, 6.0);
            let (dx, dy) = (gpu.upload(&x).unwrap(), gpu.alloc::<f32>(rows * cols).unwrap());
            softmax::forward_variant(&gpu, v, &dy, &dx, rows, cols).unwrap();
            let want = softmax::reference_forward(&x, cols);
            common::assert_close(&format!("softmax {v:?} {rows}x{cols}"), &dy.read().unwrap(), &want, 1e-7, 1e-5);
        }
    }
}

#[test]
fn backward_matches_reference() {
    let Some(gpu) = common::gpu() else { return };
    for (i, &(rows, cols)) in SHAPES.iter().enumerate() {
        let y = softmax::reference_forward(&common::values(rows * cols, 20 + i as u64, 3.0), cols);
        let dy = common::values(rows * cols, 30 + i as u64, 1.0);
        let (d_y, d_dy, d_dx) =
            (gpu.upload(&y).unwrap(), gpu.upload(&dy).unwrap(), gpu.alloc::<f32>(rows * cols).unwrap());
        softmax::backward(&gpu, &d_dx, &d_y, &d_dy, rows, cols).unwrap();
        let want = softmax::reference_backward(&y, &dy, cols);
        common::assert_close(&format!("softmax backward {rows}x{cols}"), &d_dx.read().unwrap(), &want, 1e-6, 1e-4);
    }
}
