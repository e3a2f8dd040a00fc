//! Layer-norm tests: f64 references at every SIMD level, backward against finite differences,
//! thread-count determinism.

use super::*;
use crate::cpu::in_pool;
use crate::cpu::simd::{available_levels, with_level};
use crate::cpu::Float;

fn data<T: Float>(n: usize, seed: usize) -> Vec<T> {
    (0..n).map(|i| T::from_f64(((i * 7919 + seed * 31) % 1009) as f64 / 211.0 - 2.0 + seed as f64)).collect()
}

const EPS: f64 = 1e-5;

/// Forward and backward of one row in f64, by the textbook formulas.
struct RowRef {
    out: Vec<f64>,
    dx: Vec<f64>,
    xhat: Vec<f64>,
}

fn row_ref(x: &[f64], dy: &[f64], w: &[f64], b: &[f64]) -> RowRef {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
    let r = 1.0 / (var + EPS).sqrt();
    let xhat: Vec<f64> = x.iter().map(|v| (v - m) * r).collect();
    let out = (0..x.len()).map(|i| xhat[i] * w[i] + b[i]).collect();
    let g: Vec<f64> = (0..x.len()).map(|i| dy[i] * w[i]).collect();
    let mg = g.iter().sum::<f64>() / n;
    let mgx = (0..x.len()).map(|i| g[i] * xhat[i]).sum::<f64>() / n;
    let dx = (0..x.len()).map(|i| r * (g[i] - mg - xhat[i] * mgx)).collect();
    RowRef { out, dx, xhat }
}

fn check<T: FloatMath>(tol: f64) {
    for level in available_levels() {
        for row_len in [1, 7, 16, 17, 33, 197, 384, 1000] {
            let rows = 150; // more than two backward blocks
            let (x, dy) = (data::<T>(rows * row_len, 0), data::<T>(rows * row_len, 1));
            let (w, b) = (data::<T>(row_len, 2), data::<T>(row_len, 3));
            for affine in [false, true] {
                let (wo, bo) = if affine { (Some(&w[..]), Some(&b[..])) } else { (None, None) };
                let mut out = vec![T::ZERO; x.len()];
                let (mut mean, mut rstd) = (vec![T::ZERO; rows], vec![T::ZERO; rows]);
                let mut dx = vec![T::ZERO; x.len()];
                let (mut dw, mut db) = (vec![T::ONE; row_len], vec![T::ONE; row_len]);
                with_level(level, || {
                    let eps = T::from_f64(EPS);
                    layer_norm_rows(&x, row_len, wo, bo, eps, &mut out, &mut mean, &mut rstd);
                    let (dwo, dbo) = (Some(&mut dw[..]), Some(&mut db[..]));
                    layer_norm_backward_rows(&x, &dy, row_len, wo, &mean, &rstd, &mut dx, dwo, dbo);
                });
                let f64s = |v: &[T]| v.iter().map(|a| a.to_f64()).collect::<Vec<f64>>();
                let (w64, b64) = if affine { (f64s(&w), f64s(&b)) } else { (vec![1.0; row_len], vec![0.0; row_len]) };
                let (mut dw_ref, mut db_ref) = (vec![0.0; row_len], vec![0.0; row_len]);
                for r in 0..rows {
                    let span = r * row_len..(r + 1) * row_len;
                    let (xr, dyr) = (f64s(&x[span.clone()]), f64s(&dy[span.clone()]));
                    let want = row_ref(&xr, &dyr, &w64, &b64);
                    for (k, i) in span.enumerate() {
                        let at = format!("{level:?} row_len={row_len} affine={affine} i={i}");
                        let close = |g: T, w: f64| (g.to_f64() - w).abs() <= tol * (1.0 + w.abs());
                        assert!(close(out[i], want.out[k]), "out {at}");
                        assert!(close(dx[i], want.dx[k]), "dx {at}");
                        dw_ref[k] += dyr[k] * want.xhat[k];
                        db_ref[k] += dyr[k];
                    }
                }
                for k in 0..row_len {
                    let scale = rows as f64 * 4.0;
                    assert!((dw[k].to_f64() - dw_ref[k]).abs() <= tol * scale, "dweight {k}");
                    assert!((db[k].to_f64() - db_ref[k]).abs() <= tol * scale, "dbias {k}");
                }
            }
        }
    }
}

#[test]
fn matches_f64_reference_at_every_level() {
    check::<f32>(1e-5);
    check::<f64>(1e-12);
}

#[test]
fn backward_matches_finite_differences() {
    let (rows, d) = (3, 9);
    let (x, dy) = (data::<f64>(rows * d, 4), data::<f64>(rows * d, 5));
    let (w, b) = (data::<f64>(d, 6), data::<f64>(d, 7));
    let loss = |x: &[f64], w: &[f64], b: &[f64]| {
        let mut out = vec![0.0; x.len()];
        let (mut m, mut r) = (vec![0.0; rows], vec![0.0; rows]);
        layer_norm_rows(x, d, Some(w), Some(b), EPS, &mut out, &mut m, &mut r);
        out.iter().zip(&dy).map(|(o, g)| o * g).sum::<f64>()
    };
    let mut out = vec![0.0; x.len()];
    let (mut m, mut r) = (vec![0.0; rows], vec![0.0; rows]);
    layer_norm_rows(&x, d, Some(&w), Some(&b), EPS, &mut out, &mut m, &mut r);
    let (mut dx, mut dw, mut db) = (vec![0.0; x.len()], vec![0.0; d], vec![0.0; d]);
    layer_norm_backward_rows(&x, &dy, d, Some(&w), &m, &r, &mut dx, Some(&mut dw), Some(&mut db));
    let h = 1e-6;
    let numeric = |which: usize, i: usize| {
        let mut args = [x.clone(), w.clone(), b.clone()];
        args[which][i] += h;
        let plus = loss(&args[0], &args[1], &args[2]);
        args[which][i] -= 2.0 * h;
        let minus = loss(&args[0], &args[1], &args[2]);
        (plus - minus) / (2.0 * h)
    };
    for (which, grad) in [(0, &dx), (1, &dw), (2, &db)] {
        for (i, &g) in grad.iter().enumerate() {
            let n = numeric(which, i);
            assert!((g - n).abs() < 1e-6 * (1.0 + n.abs()), "arg {which} i={i}: {g} vs {n}");
        }
    }
}

#[test]
fn parameter_gradients_are_optional_and_overwritten() {
    let (rows, d) = (5, 8);
    let (x, dy) = (data::<f32>(rows * d, 1), data::<f32>(rows * d, 2));
    let (mut out, mut m, mut r) = (vec![0.0; x.len()], vec![0.0; rows], vec![0.0; rows]);
    layer_norm_rows(&x, d, None, None, 1e-5, &mut out, &mut m, &mut r);
    let (mut dx_a, mut dx_b) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    layer_norm_backward_rows(&x, &dy, d, None, &m, &r, &mut dx_a, None, None);
    let mut db = vec![123.0; d];
    layer_norm_backward_rows(&x, &dy, d, None, &m, &r, &mut dx_b, None, Some(&mut db));
    assert_eq!(dx_a, dx_b);
    for k in 0..d {
        let want: f32 = (0..rows).map(|i| dy[i * d + k]).sum();
        assert!((db[k] - want).abs() < 1e-5);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (rows, d) = (1000, 384);
    let (x, dy) = (data::<f32>(rows * d, 1), data::<f32>(rows * d, 2));
    let (w, b) = (data::<f32>(d, 3), data::<f32>(d, 4));
    let run = |threads| {
        in_pool(threads, || {
            let mut out = vec![0.0f32; x.len()];
            let (mut m, mut r) = (vec![0.0; rows], vec![0.0; rows]);
            layer_norm_rows(&x, d, Some(&w), Some(&b), 1e-5, &mut out, &mut m, &mut r);
            let (mut dx, mut dw, mut db) = (vec![0.0; x.len()], vec![0.0; d], vec![0.0; d]);
            let (dwo, dbo) = (Some(&mut dw[..]), Some(&mut db[..]));
            layer_norm_backward_rows(&x, &dy, d, Some(&w), &m, &r, &mut dx, dwo, dbo);
            let all = [out, m, r, dx, dw, db].concat();
            all.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
        })
    };
    assert!(run(1) == run(3));
}
