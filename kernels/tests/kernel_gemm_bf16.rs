//! The tensor-core bf16 GEMM against the f64 reference on the same bf16 inputs.
mod common;

use kernels::cast::reference_to_bf16;
use kernels::gemm_bf16::{self, BLayout, Shape, LAYOUTS};

fn check(gpu: &kernels::Gpu, s: &Shape, seed: u64) {
    let a: Vec<u16> = common::values(s.m * s.lda, seed, 1.0).iter().map(|&v| reference_to_bf16(v)).collect();
    let b_rows = if s.b == BLayout::NK { s.n } else { s.k };
    let b: Vec<u16> = common::values(b_rows * s.ldb, seed + 1, 1.0).iter().map(|&v| reference_to_bf16(v)).collect();
    let (da, db, dc) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap(), gpu.zeros::<f32>(s.m * s.ldc).unwrap());
    gemm_bf16::gemm_bf16(gpu, s, &da, &db, &dc).unwrap();
    let mut want = vec![0f32; s.m * s.ldc];
    gemm_bf16::reference(s, &a, &b, &mut want);
    // Products of bf16 values are exact in f32; only the f32 accumulation rounds (K <= 80 here).
    common::assert_close(&format!("gemm_bf16 {s:?}"), &dc.read().unwrap(), &want, 1e-5 * s.k as f32, 1e-5);
}

#[test]
fn tensor_core_gemm_matches_reference_on_awkward_shapes() {
    let Some(gpu) = common::gpu() else { return };
    // One tile, partial tiles in M and N, a K tail inside a slice (40 = 32 + 8), several slices (80).
    // For B [K, N], N = 9, 33, 70 leave partial 16-byte chunks at the end of B's rows.
    for layout in LAYOUTS {
        for (i, &(m, n, k)) in [(1, 1, 8), (7, 33, 16), (65, 9, 40), (33, 70, 80)].iter().enumerate() {
            // Rows of B [K, N] are padded to a multiple of 8 elements (16-byte copies need aligned rows).
            let s = Shape::new(m, n, k, layout);
            let s = if layout == BLayout::KN { Shape { ldb: n.next_multiple_of(8), ..s } } else { s };
            check(&gpu, &s, i as u64);
        }
    }
}

#[test]
fn tensor_core_gemm_respects_leading_dimensions() {
    let Some(gpu) = common::gpu() else { return };
    check(&gpu, &Shape { lda: 48, ldb: 56, ldc: 21, ..Shape::new(17, 19, 24, BLayout::NK) }, 9);
    check(&gpu, &Shape { lda: 48, ldb: 24, ldc: 21, ..Shape::new(17, 19, 24, BLayout::KN) }, 10);
}
