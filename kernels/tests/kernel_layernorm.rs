//! LayerNorm forward (with saved statistics) and backward against the f64 reference.
mod common;

use kernels::layernorm::{self, Saved};

/// The last two span several 64-row chunks of the dweight/dbias kernel (one of them partial).
const SHAPES: [(usize, usize); 7] = [(1, 1), (3, 7), (7, 33), (5, 384), (3, 768), (197, 33), (130, 5)];
const EPS: f32 = 1e-6;

#[test]
fn forward_matches_reference_even_with_a_large_mean() {
    let Some(gpu) = common::gpu() else { return };
    for (i, &(rows, cols)) in SHAPES.iter().enumerate() {
        // A mean of 100 with unit spread: the single-pass E[x^2] - E[x]^2 formula would lose 4 digits.
        let x: Vec<f32> = common::values(rows * cols, i as u64, 1.0).iter().map(|v| v + 100.0).collect();
        let (w, b) = (common::values(cols, 100 + i as u64, 2.0), common::values(cols, 200 + i as u64, 1.0));
        let (dx, dw, db) = (gpu.upload(&x).unwrap(), gpu.upload(&w).unwrap(), gpu.upload(&b).unwrap());
        let (out, mean, rstd) =
            (gpu.alloc::<f32>(rows * cols).unwrap(), gpu.alloc::<f32>(rows).unwrap(), gpu.alloc::<f32>(rows).unwrap());
        layernorm::forward(&gpu, &out, &mean, &rstd, &dx, &dw, &db, cols, EPS).unwrap();
        let (want, want_mean, want_rstd) = layernorm::reference_forward(&x, &w, &b, cols, EPS);
        let what = format!("layernorm {rows}x{cols}");
        common::assert_close(&what, &mean.read().unwrap(), &want_mean, 0.0, 1e-5);
        // x - mean near 100 keeps ~5e-6 absolute error per element: relative 1e-4 of its unit spread.
        common::assert_close(&what, &rstd.read().unwrap(), &want_rstd, 0.0, 1e-4);
        common::assert_close(&what, &out.read().unwrap(), &want, 2e-4, 2e-4);
    }
}

#[test]
fn backward_matches_reference() {
    let Some(gpu) = common::gpu() else { return };
    for (i, &(rows, cols)) in SHAPES.iter().enumerate() {
        let x = common::values(rows * cols, 300 + i as u64, 2.0);
        let w = common::values(cols, 400 + i as u64, 1.5);
        let dy = common::values(rows * cols, 500 + i as u64, 1.0);
        let (_, mean, rstd) = layernorm::reference_forward(&x, &w, &w, cols, EPS);
        let up = |v: &[f32]| gpu.upload(v).unwrap();
        let (d_x, d_w, d_mean, d_rstd, d_dy) = (up(&x), up(&w), up(&mean), up(&rstd), up(&dy));
        let (dx, dw, db) =
            (gpu.alloc::<f32>(rows * cols).unwrap(), gpu.alloc::<f32>(cols).unwrap(), gpu.alloc::<f32>(cols).unwrap());
        let saved = Saved { x: &d_x, w: &d_w, mean: &d_mean, rstd: &d_rstd };
        layernorm::backward(&gpu, &dx, &dw, &db, &d_dy, &saved, cols).unwrap();
        let (want_dx, want_dw, want_db) = layernorm::reference_backward(&dy, &x, &w, &mean, &rstd, cols);
        let what = format!("layernorm backward {rows}x{cols}");
        // rstd reaches ~1e3 on a 1-wide row (var = 0): absolute errors scale with it.
        let atol = if cols == 1 { 1e-2 } else { 1e-5 };
        common::assert_close(&what, &dx.read().unwrap(), &want_dx, atol, 1e-4);
        common::assert_close(&what, &dw.read().unwrap(), &want_dw, 1e-5, 1e-5);
        common::assert_close(&what, &db.read().unwrap(), &want_db, 1e-6, 1e-6);
    }
}
