//! GELU, broadcasting binary ops, reductions and casts against their references.
mod common;

use kernels::elementwise::{self, BinaryOp, Broadcast};
use kernels::{cast, reduce};

const LENS: [usize; 5] = [1, 7, 33, 197, 1000];

#[test]
fn gelu_forward_and_backward_match_the_erf_reference() {
    let Some(gpu) = common::gpu() else { return };
    for (i, &n) in LENS.iter().enumerate() {
        let mut x = common::values(n, i as u64, 5.0);
        x[0] = 0.0;
        let dy = common::values(n, 10 + i as u64, 1.0);
        let (dx_, ddy, out, dx) =
            (gpu.upload(&x).unwrap(), gpu.upload(&dy).unwrap(), gpu.alloc(n).unwrap(), gpu.alloc(n).unwrap());
        elementwise::gelu_forward(&gpu, &out, &dx_).unwrap();
        elementwise::gelu_backward(&gpu, &dx, &dx_, &ddy).unwrap();
        // The erf approximation's error (documented in elementwise.ptx) is at most 3e-7 |x| <= 1.5e-6 here.
        let want: Vec<f32> = x.iter().map(|&v| elementwise::reference_gelu(v)).collect();
        common::assert_close(&format!("gelu n={n}"), &out.read().unwrap(), &want, 2e-6, 1e-6);
        let want: Vec<f32> = x.iter().zip(&dy).map(|(&v, &d)| d * elementwise::reference_gelu_grad(v)).collect();
        common::assert_close(&format!("gelu backward n={n}"), &dx.read().unwrap(), &want, 1e-6, 1e-6);
    }
}

#[test]
fn binary_ops_broadcast_rows_columns_and_same_shapes() {
    let Some(gpu) = common::gpu() else { return };
    for &(rows, cols) in &[(1, 1), (3, 7), (5, 33), (2, 197)] {
        let n = rows * cols;
        let a = common::values(n, 1, 3.0);
        for bc in [Broadcast::same(n), Broadcast::row(cols), Broadcast::col(rows, cols)] {
            let b = common::values(bc.len, 2, 3.0);
            let (da, db, out) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap(), gpu.alloc(n).unwrap());
            for op in [BinaryOp::Add, BinaryOp::Mul] {
                elementwise::binary(&gpu, op, &out, &da, &db, bc).unwrap();
                let want: Vec<f32> = (0..n)
                    .map(|i| match op {
                        BinaryOp::Add => a[i] + b[bc.index(i)],
                        BinaryOp::Mul => a[i] * b[bc.index(i)],
                    })
                    .collect();
                // One f32 rounding each way: results must be bit-identical.
                assert_eq!(out.read().unwrap(), want, "{op:?} {bc:?} on {rows}x{cols}");
            }
        }
    }
}

#[test]
fn sums_over_rows_and_columns_match_reference() {
    let Some(gpu) = common::gpu() else { return };
    for &(rows, cols) in &[(1, 1), (7, 3), (33, 5), (3, 197), (197, 2), (4, 768)] {
        let x = common::values(rows * cols, 7, 1.0);
        let (dx, over_rows, over_cols) = (gpu.upload(&x).unwrap(), gpu.alloc(cols).unwrap(), gpu.alloc(rows).unwrap());
        reduce::sum_over_rows(&gpu, &over_rows, &dx, rows, cols).unwrap();
        reduce::sum_over_cols(&gpu, &over_cols, &dx, rows, cols).unwrap();
        let (want_rows, want_cols) = reduce::reference(&x, rows, cols);
        // f32 sums of up to 768 values in [-1, 1): error below 768 * 2^-24 * 768.
        let atol = 4e-5;
        common::assert_close(
            &format!("sum over rows {rows}x{cols}"),
            &over_rows.read().unwrap(),
            &want_rows,
            atol,
            0.0,
        );
        common::assert_close(
            &format!("sum over cols {rows}x{cols}"),
            &over_cols.read().unwrap(),
            &want_cols,
            atol,
            0.0,
        );
    }
}

#[test]
fn casts_round_to_nearest_even_and_widen_exactly() {
    let Some(gpu) = common::gpu() else { return };
    // Ties (0x3F808000 lies halfway between two bf16 values), near-ties, signs, subnormals, extremes.
    let mut x: Vec<f32> =
        [0x3F80_8000u32, 0x3F81_8000, 0x3F80_8001, 0x3F80_7FFF, 0x8000_0001, 0x0000_8000, 0x7F7F_FFFF]
            .iter()
            .map(|&b| f32::from_bits(b))
            .collect();
    x.extend([0.0, -0.0, 1.0, -2.5, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e-40, 3.0e38]);
    x.extend(common::values(197, 3, 100.0));
    let (dx, bf, back) =
        (gpu.upload(&x).unwrap(), gpu.alloc::<u16>(x.len()).unwrap(), gpu.alloc::<f32>(x.len()).unwrap());
    cast::f32_to_bf16(&gpu, &bf, &dx).unwrap();
    cast::bf16_to_f32(&gpu, &back, &bf).unwrap();
    let got = bf.read().unwrap();
    for (i, (&g, &v)) in got.iter().zip(&x).enumerate() {
        if v.is_nan() {
            assert!(cast::reference_to_f32(g).is_nan(), "element {i}: NaN became {g:#06x}");
        } else {
            assert_eq!(g, cast::reference_to_bf16(v), "element {i}: bf16 of {v:e} ({:#010x})", v.to_bits());
        }
    }
    let back = back.read().unwrap();
    for (i, (&b, &g)) in back.iter().zip(&got).enumerate() {
        assert_eq!(b.to_bits(), cast::reference_to_f32(g).to_bits(), "element {i}: widening is not exact");
    }
}
