//! Strided copies, elementwise maps with broadcasting and row reductions against their references, on
//! awkward views: transposes, narrows with offsets, stride-0 broadcasts, rank 6, empty and single rows.
mod common;

use kernels::map::{self, Binary, Compare, Unary, View};
use kernels::reduce_rows::{self, Fold};
use kernels::strided;

/// Row-major strides of `dims`.
fn contiguous(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for k in (0..dims.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * dims[k + 1];
    }
    s
}

/// `dims` permuted by `perm` with the strides that read a contiguous buffer of the original dims.
fn permuted(dims: &[usize], perm: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let s = contiguous(dims);
    (perm.iter().map(|&p| dims[p]).collect(), perm.iter().map(|&p| s[p]).collect())
}

#[test]
fn strided_copy_matches_the_reference_for_every_width() {
    let Some(gpu) = common::gpu() else { return };
    // (dims of the buffer, permutation): a transpose, a rank-6 patchify-like permutation, a vector.
    let cases: [(&[usize], &[usize]); 4] =
        [(&[3, 5], &[1, 0]), (&[2, 2, 3, 2, 3, 2], &[0, 2, 4, 1, 3, 5]), (&[7], &[0]), (&[1, 4, 1], &[2, 1, 0])];
    for (dims, perm) in cases {
        let n: usize = dims.iter().product();
        let (vd, vs) = permuted(dims, perm);
        let x: Vec<u32> = (0..n as u32).map(|v| v.wrapping_mul(2654435761)).collect();
        let (dx, out) = (gpu.upload(&x).unwrap(), gpu.alloc::<u32>(n).unwrap());
        strided::copy(&gpu, &out, &dx, &vd, &vs).unwrap();
        assert_eq!(out.read().unwrap(), strided::reference_copy(&x, &vd, &vs), "b32 {dims:?} by {perm:?}");
        let x8: Vec<u8> = x.iter().map(|&v| v as u8).collect();
        let (dx8, out8) = (gpu.upload(&x8).unwrap(), gpu.alloc::<u8>(n).unwrap());
        strided::copy(&gpu, &out8, &dx8, &vd, &vs).unwrap();
        assert_eq!(out8.read().unwrap(), strided::reference_copy(&x8, &vd, &vs), "b8 {dims:?} by {perm:?}");
        let x16: Vec<u16> = x.iter().map(|&v| v as u16).collect();
        let (dx16, out16) = (gpu.upload(&x16).unwrap(), gpu.alloc::<u16>(n).unwrap());
        strided::copy(&gpu, &out16, &dx16, &vd, &vs).unwrap();
        assert_eq!(out16.read().unwrap(), strided::reference_copy(&x16, &vd, &vs), "b16 {dims:?}");
        let x64: Vec<u64> = x.iter().map(|&v| (v as u64) << 20 | 7).collect();
        let (dx64, out64) = (gpu.upload(&x64).unwrap(), gpu.alloc::<u64>(n).unwrap());
        strided::copy(&gpu, &out64, &dx64, &vd, &vs).unwrap();
        assert_eq!(out64.read().unwrap(), strided::reference_copy(&x64, &vd, &vs), "b64 {dims:?}");
    }
}

#[test]
fn strided_copy_reads_a_narrowed_view_through_a_slice() {
    let Some(gpu) = common::gpu() else { return };
    // Columns 2..5 of a [4, 7] matrix: the view starts 2 elements into the buffer.
    let x: Vec<f32> = (0..28).map(|v| v as f32).collect();
    let (dx, out) = (gpu.upload(&x).unwrap(), gpu.alloc::<f32>(12).unwrap());
    strided::copy(&gpu, &out, &dx.slice(2, 26), &[4, 3], &[7, 1]).unwrap();
    let want: Vec<f32> = (0..4).flat_map(|r| (2..5).map(move |c| (r * 7 + c) as f32)).collect();
    assert_eq!(out.read().unwrap(), want);
}

#[test]
fn unary_functions_match_the_f64_reference() {
    let Some(gpu) = common::gpu() else { return };
    let ops = [
        Unary::Neg,
        Unary::Exp,
        Unary::Log,
        Unary::Sqrt,
        Unary::Rsqrt,
        Unary::Tanh,
        Unary::Gelu,
        Unary::GeluGrad,
        Unary::Relu,
        Unary::Sigmoid,
        Unary::Abs,
        Unary::Square,
        Unary::Recip,
        Unary::Powf(3.0),
        Unary::Powf(-1.5),
        Unary::Powf(2.5),
        Unary::Powf(0.0),
    ];
    // A [5, 9] buffer read transposed: [9, 5] with strides [1, 9].
    let (rows, cols) = (5, 9);
    let mut x = common::values(rows * cols, 3, 4.0);
    x[1] = 0.05; // the tanh series branch
    x[2] = -0.0;
    x[3] = -2.0; // a negative base for powf's integer and non-integer exponents
    let positive: Vec<f32> = x.iter().map(|v| v.abs() + 0.01).collect();
    for op in ops {
        let input = if matches!(op, Unary::Log | Unary::Sqrt | Unary::Rsqrt) { &positive } else { &x };
        let (dx, out) = (gpu.upload(input).unwrap(), gpu.alloc::<f32>(rows * cols).unwrap());
        map::unary(&gpu, op, &out, View { buf: &dx, strides: &[1, cols] }, &[cols, rows]).unwrap();
        let want: Vec<f32> = strided::reference_copy(input, &[cols, rows], &[1, cols])
            .into_iter()
            .map(|v| map::reference_unary(op, v))
            .collect();
        // ex2/lg2.approx are within 2 ulp on hardware; the scaling by log2(e) adds up to |x log2 e| ulp
        // (~6 here), and the GELU erf approximation 3e-7 |x| (1.2e-6 at |x| = 4): 2e-6 absolute and 2e-6
        // relative cover all of them, and are far below any wrong formula's error.
        let got = out.read().unwrap();
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            let ok = g == w || (g.is_nan() && w.is_nan()) || (g - w).abs() <= 2e-6 + 2e-6 * w.abs();
            assert!(ok, "{op:?} element {i}: got {g}, want {w}");
        }
    }
}

#[test]
fn binary_ops_broadcast_like_numpy() {
    let Some(gpu) = common::gpu() else { return };
    // [3, 4, 5] op [4, 1] (broadcast over the first and last dims), op a [5] row, op a transposed view.
    let dims = [3, 4, 5];
    let a = common::values(60, 1, 3.0);
    let b_col = common::values(4, 2, 3.0);
    let b_row = common::values(5, 4, 3.0);
    let mut b_t = common::values(60, 5, 3.0);
    b_t[7] = f32::NAN; // maximum/minimum must return NaN there
    let cases: [(&[f32], [usize; 3]); 3] = [(&b_col, [0, 1, 0]), (&b_row, [0, 0, 1]), (&b_t, [20, 1, 4])];
    let da = gpu.upload(&a).unwrap();
    let out = gpu.alloc::<f32>(60).unwrap();
    let mask = gpu.alloc::<u8>(60).unwrap();
    let sa = contiguous(&dims);
    for (b, sb) in cases {
        let db = gpu.upload(b).unwrap();
        let av = View { buf: &da, strides: &sa };
        let bv = View { buf: &db, strides: &sb };
        for op in [Binary::Add, Binary::Sub, Binary::Mul, Binary::Div, Binary::Maximum, Binary::Minimum] {
            map::binary(&gpu, op, &out, av, bv, &dims).unwrap();
            let want: Vec<f32> = (0..60)
                .map(|i| {
                    let (x, y) = (a[i], b[strided::reference_offset(&dims, &sb, i)]);
                    map::reference_binary(op, x, y)
                })
                .collect();
            // Each op rounds once (.rn), as the f64 reference rounded to f32 does: bit-identical.
            let got = out.read().unwrap();
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "{op:?} {sb:?} at {i}: {g} vs {w}");
            }
        }
        for op in [Compare::Eq, Compare::Ne, Compare::Lt, Compare::Le, Compare::Gt, Compare::Ge] {
            map::compare(&gpu, op, &mask, av, bv, &dims).unwrap();
            let want: Vec<u8> = (0..60)
                .map(|i| map::reference_compare(op, a[i], b[strided::reference_offset(&dims, &sb, i)]))
                .collect();
            assert_eq!(mask.read().unwrap(), want, "{op:?} with strides {sb:?}");
        }
    }
}

#[test]
fn scalar_forms_and_the_mask_cast() {
    let Some(gpu) = common::gpu() else { return };
    let a = common::values(13, 9, 2.0);
    let (da, out, mask) = (gpu.upload(&a).unwrap(), gpu.alloc::<f32>(13).unwrap(), gpu.alloc::<u8>(13).unwrap());
    let av = View { buf: &da, strides: &[1] };
    for first in [false, true] {
        map::binary_scalar(&gpu, Binary::Sub, &out, av, 0.75, first, &[13]).unwrap();
        let want: Vec<f32> = a.iter().map(|&x| if first { 0.75 - x } else { x - 0.75 }).collect();
        assert_eq!(out.read().unwrap(), want, "scalar first: {first}");
    }
    map::compare_scalar(&gpu, Compare::Gt, &mask, av, 0.0, &[13]).unwrap();
    let want: Vec<u8> = a.iter().map(|&x| (x > 0.0) as u8).collect();
    assert_eq!(mask.read().unwrap(), want);
    // The mask read back as f32 through a broadcast: [2, 13] with the mask repeated.
    let wide = gpu.alloc::<f32>(26).unwrap();
    map::cast_u8_f32(&gpu, &wide, View { buf: &mask, strides: &[0, 1] }, &[2, 13]).unwrap();
    let want: Vec<f32> = want.iter().chain(&want).map(|&m| m as f32).collect();
    assert_eq!(wide.read().unwrap(), want);
}

#[test]
fn row_reductions_match_the_reference() {
    let Some(gpu) = common::gpu() else { return };
    for &(rows, cols) in &[(1, 1), (5, 7), (3, 33), (9, 197), (2, 0)] {
        let mut x = common::values(rows * cols, 11, 2.0);
        if rows * cols > 40 {
            x[40] = f32::NAN; // max and min must say NaN for that row
        }
        let (dx, out) = (gpu.upload(&x).unwrap(), gpu.alloc::<f32>(rows).unwrap());
        for fold in [Fold::Sum, Fold::Max, Fold::Min, Fold::SumSquares] {
            reduce_rows::reduce_rows(&gpu, fold, &out, &dx, rows, cols).unwrap();
            let want = reduce_rows::reference(fold, &x, rows, cols);
            let got = out.read().unwrap();
            // Sums of <= 197 values of magnitude <= 4 in f32, in a different order than the f64
            // reference: under 197 * 4 * 2^-24 * log2(197) ~ 4e-4 absolute; max/min are exact.
            for (r, (&g, &w)) in got.iter().zip(&want).enumerate() {
                let ok = g == w || (g.is_nan() && w.is_nan()) || (g - w).abs() <= 4e-4 + 1e-6 * w.abs();
                assert!(ok, "{fold:?} of row {r} of {rows} x {cols}: got {g}, want {w}");
            }
        }
    }
}

#[test]
fn row_argmax_and_argmin_take_the_first_extreme_and_nan_first() {
    let Some(gpu) = common::gpu() else { return };
    for &(rows, cols) in &[(1, 1), (5, 7), (3, 33), (6, 197)] {
        // Few distinct values, so ties are everywhere; a NaN in one row, and a row of equal values.
        let mut x: Vec<f32> = common::values(rows * cols, 13, 3.0).iter().map(|v| v.round()).collect();
        if rows * cols > 40 {
            x[40] = f32::NAN;
            x[45] = f32::NAN;
        }
        if rows > 2 {
            x[2 * cols..3 * cols].fill(1.0);
        }
        let (dx, out) = (gpu.upload(&x).unwrap(), gpu.alloc::<i64>(rows).unwrap());
        for largest in [true, false] {
            reduce_rows::arg_rows(&gpu, largest, &out, &dx, rows, cols).unwrap();
            let want = reduce_rows::reference_arg(largest, &x, rows, cols);
            assert_eq!(out.read().unwrap(), want, "largest={largest} over {rows} x {cols}");
        }
    }
}
