//! The tensor-core bf16 GEMM against the f64 reference on the same bf16 inputs, all four layout pairs.
mod common;

use kernels::cast::reference_to_bf16;
use kernels::gemm_bf16::{self, Layout, Shape, LAYOUTS};

fn check(gpu: &kernels::Gpu, s: &Shape, seed: u64) {
    let [la, lb, lc] = s.lens();
    let a: Vec<u16> = common::values(la, seed, 1.0).iter().map(|&v| reference_to_bf16(v)).collect();
    let b: Vec<u16> = common::values(lb, seed + 1, 1.0).iter().map(|&v| reference_to_bf16(v)).collect();
    let c0 = common::values(lc, seed + 2, 1.0);
    let (da, db, dc) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap(), gpu.upload(&c0).unwrap());
    gemm_bf16::gemm_bf16(gpu, s, &da, &db, &dc).unwrap();
    let mut want = c0;
    gemm_bf16::reference(s, &a, &b, &mut want);
    // Products of bf16 values are exact in f32; only the f32 accumulation rounds (K <= 80 here).
    common::assert_close(&format!("gemm_bf16 {s:?}"), &dc.read().unwrap(), &want, 1e-5 * s.k as f32, 1e-5);
}

/// Rows of a K-major operand are padded to a multiple of 8 elements (16-byte copies need aligned rows).
fn padded(s: Shape) -> Shape {
    let pad = |l: Layout, ld: usize| if l == Layout::KMajor { ld.next_multiple_of(8) } else { ld };
    let (lda, ldb) = (pad(s.a, s.lda), pad(s.b, s.ldb));
    let stride = |l: Layout, outer: usize, ld: usize| if l == Layout::KMajor { s.k * ld } else { outer * ld };
    Shape { lda, ldb, stride_a: stride(s.a, s.m, lda), stride_b: stride(s.b, s.n, ldb), ..s }
}

#[test]
fn tensor_core_gemm_matches_reference_on_awkward_shapes() {
    let Some(gpu) = common::gpu() else { return };
    // One tile, partial tiles in M and N, a K tail inside a slice (40 = 32 + 8), several slices (80).
    // K-major rows of 1, 7, 9, 33, 65 or 70 elements end in partial 16-byte chunks.
    for a in LAYOUTS {
        for b in LAYOUTS {
            for (i, &(m, n, k)) in [(1, 1, 8), (7, 33, 16), (65, 9, 40), (33, 70, 80)].iter().enumerate() {
                check(&gpu, &padded(Shape::new(m, n, k, a, b)), i as u64);
            }
        }
    }
}

#[test]
fn tensor_core_gemm_respects_leading_dimensions() {
    let Some(gpu) = common::gpu() else { return };
    for a in LAYOUTS {
        for b in LAYOUTS {
            let s = Shape { lda: 48, ldb: 56, ldc: 21, ..Shape::new(17, 19, 24, a, b) };
            check(&gpu, &s, 9);
        }
    }
}

#[test]
fn tensor_core_gemm_runs_batches_with_alpha_and_beta() {
    let Some(gpu) = common::gpu() else { return };
    for a in LAYOUTS {
        for b in LAYOUTS {
            let s = padded(Shape { alpha: 0.5, beta: -1.5, ..Shape::new(9, 13, 24, a, b) }).batched(3);
            check(&gpu, &s, 21);
        }
    }
}
