//! Every GEMM variant against the f64 CPU reference: awkward shapes, all four transpose combinations,
//! padded leading dimensions, batches, alpha/beta.
mod common;

use kernels::gemm::{self, Shape, Variant};

/// Accumulating K products of values in [-1, 1) in f32 errs by at most about K * eps * K; the shapes
/// here keep K under 200, so this bound is loose enough for any summation order and tight enough to
/// catch a wrong index (errors of order 1).
fn tolerance(k: usize) -> f32 {
    2e-6 * k.max(1) as f32
}

fn check(gpu: &kernels::Gpu, v: Variant, s: &Shape, seed: u64) {
    let [la, lb, lc] = s.lens();
    let (a, b, c0) =
        (common::values(la, seed, 1.0), common::values(lb, seed + 1, 1.0), common::values(lc, seed + 2, 1.0));
    let (da, db, dc) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap(), gpu.upload(&c0).unwrap());
    gemm::gemm(gpu, v, s, &da, &db, &dc).unwrap();
    let mut want = c0.clone();
    gemm::reference(s, &a, &b, &mut want);
    common::assert_close(&format!("{v:?} {s:?}"), &dc.read().unwrap(), &want, tolerance(s.k), 1e-5);
}

const SHAPES: [(usize, usize, usize); 4] = [(1, 1, 1), (7, 33, 5), (33, 7, 19), (67, 130, 9)];

#[test]
fn every_variant_matches_the_reference_on_awkward_shapes_and_transposes() {
    let Some(gpu) = common::gpu() else { return };
    for v in Variant::all() {
        for (i, &(m, n, k)) in SHAPES.iter().enumerate() {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                check(&gpu, v, &Shape::new(m, n, k, ta, tb), i as u64);
            }
        }
    }
}

#[test]
fn padded_leading_dimensions_alpha_and_beta() {
    let Some(gpu) = common::gpu() else { return };
    for v in Variant::all() {
        // Each matrix is a window of a wider one; C keeps its old values scaled by beta.
        let s = Shape { lda: 40, ldb: 50, ldc: 45, alpha: 0.5, beta: -2.0, ..Shape::new(9, 37, 31, false, true) };
        let s = Shape { stride_a: 9 * 40, stride_b: 37 * 50, stride_c: 9 * 45, ..s };
        check(&gpu, v, &s, 7);
    }
}

#[test]
fn batched_products_run_on_grid_z() {
    let Some(gpu) = common::gpu() else { return };
    for v in Variant::all() {
        check(&gpu, v, &Shape::new(5, 19, 12, false, false).batched(3), 11);
        check(&gpu, v, &Shape::new(17, 3, 33, true, true).batched(2), 12);
    }
}

#[test]
fn k_zero_scales_c_by_beta_only() {
    let Some(gpu) = common::gpu() else { return };
    for v in Variant::all() {
        let s = Shape { beta: 3.0, ..Shape::new(4, 5, 1, false, false) };
        let s = Shape { k: 0, lda: 1, ldb: 5, ..s };
        let c0 = common::values(20, 3, 1.0);
        let dc = gpu.upload(&c0).unwrap();
        let (da, db) = (gpu.zeros::<f32>(4).unwrap(), gpu.zeros::<f32>(5).unwrap());
        gemm::gemm(&gpu, v, &s, &da, &db, &dc).unwrap();
        let want: Vec<f32> = c0.iter().map(|x| 3.0 * x).collect();
        common::assert_close(&format!("{v:?} K=0"), &dc.read().unwrap(), &want, 1e-6, 1e-6);
    }
}
