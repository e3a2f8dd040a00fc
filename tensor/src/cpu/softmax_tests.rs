//! Softmax tests: f64 references at every SIMD level, special rows, backward against finite
//! differences, and thread-count determinism.

use super::*;
use crate::cpu::in_pool;
use crate::cpu::simd::{available_levels, with_level};
use crate::cpu::Float;

const ROW_LENS: [usize; 9] = [1, 7, 15, 16, 17, 33, 197, 1000, 100_003];

fn data<T: Float>(n: usize, seed: usize) -> Vec<T> {
    (0..n).map(|i| T::from_f64(((i * 7919 + seed * 31) % 1009) as f64 / 97.0 - 5.0)).collect()
}

fn softmax_ref(x: &[f64]) -> Vec<f64> {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * (1.0 + want.abs())
}

fn check<T: FloatMath>(tol: f64) {
    for level in available_levels() {
        for row_len in ROW_LENS {
            let rows = if row_len > 1000 { 1 } else { 3 };
            let x = data::<T>(rows * row_len, 1);
            let dy = data::<T>(rows * row_len, 2);
            let (mut y, mut ly) = (vec![T::ZERO; x.len()], vec![T::ZERO; x.len()]);
            let (mut dx, mut ldx) = (vec![T::ZERO; x.len()], vec![T::ZERO; x.len()]);
            with_level(level, || {
                softmax_rows(&x, row_len, &mut y);
                log_softmax_rows(&x, row_len, &mut ly);
                softmax_backward_rows(&y, &dy, row_len, &mut dx);
                log_softmax_backward_rows(&ly, &dy, row_len, &mut ldx);
            });
            for r in 0..rows {
                let span = r * row_len..(r + 1) * row_len;
                let x64: Vec<f64> = x[span.clone()].iter().map(|v| v.to_f64()).collect();
                let dy64: Vec<f64> = dy[span.clone()].iter().map(|v| v.to_f64()).collect();
                let p = softmax_ref(&x64);
                let dot: f64 = p.iter().zip(&dy64).map(|(p, d)| p * d).sum();
                let dsum: f64 = dy64.iter().sum();
                for (k, i) in span.enumerate() {
                    let at = format!("{level:?} row_len={row_len} i={i}");
                    assert!(close(y[i].to_f64(), p[k], tol), "softmax {at}");
                    assert!(close(ly[i].to_f64(), p[k].ln(), tol), "log_softmax {at}");
                    assert!(close(dx[i].to_f64(), p[k] * (dy64[k] - dot), tol), "softmax bwd {at}");
                    assert!(close(ldx[i].to_f64(), dy64[k] - p[k] * dsum, tol * 10.0), "lsm bwd {at}");
                }
            }
        }
    }
}

#[test]
fn matches_f64_reference_at_every_level() {
    check::<f32>(2e-6);
    check::<f64>(1e-12);
}

#[test]
fn special_rows_follow_pytorch() {
    let ninf = f32::NEG_INFINITY;
    let x = [ninf, ninf, ninf, 0.0, ninf, 0.0, 1.0, f32::NAN, 2.0];
    let mut y = [0.0f32; 9];
    softmax_rows(&x, 3, &mut y);
    assert!(y[..3].iter().all(|v| v.is_nan()), "all -inf row gives NaN");
    assert_eq!(&y[3..6], &[0.5, 0.0, 0.5]);
    assert!(y[6..].iter().all(|v| v.is_nan()), "a NaN poisons its row");
    log_softmax_rows(&x, 3, &mut y);
    assert!(y[..3].iter().all(|v| v.is_nan()));
    assert_eq!(y[4], ninf);
    let ln_half = -std::f32::consts::LN_2;
    assert!((y[3] - ln_half).abs() < 1e-7 && (y[5] - ln_half).abs() < 1e-7);
    // Large inputs do not overflow.
    softmax_rows(&[1000.0f32, 1000.0], 2, &mut y[..2]);
    assert_eq!(&y[..2], &[0.5, 0.5]);
}

/// d/dx of L(x) = Σ dy·f(x) by central differences, one coordinate at a time.
fn finite_diff(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], dy: &[f64]) -> Vec<f64> {
    let h = 1e-6;
    let loss = |x: &[f64]| f(x).iter().zip(dy).map(|(a, b)| a * b).sum::<f64>();
    (0..x.len())
        .map(|i| {
            let (mut p, mut m) = (x.to_vec(), x.to_vec());
            p[i] += h;
            m[i] -= h;
            (loss(&p) - loss(&m)) / (2.0 * h)
        })
        .collect()
}

#[test]
fn backward_matches_finite_differences() {
    let (row_len, rows) = (17, 2);
    let x = data::<f64>(rows * row_len, 3);
    let dy = data::<f64>(rows * row_len, 4);
    for log in [false, true] {
        let forward = |x: &[f64]| {
            let mut y = vec![0.0; x.len()];
            if log {
                log_softmax_rows(x, row_len, &mut y);
            } else {
                softmax_rows(x, row_len, &mut y);
            }
            y
        };
        let y = forward(&x);
        let mut dx = vec![0.0; x.len()];
        if log {
            log_softmax_backward_rows(&y, &dy, row_len, &mut dx);
        } else {
            softmax_backward_rows(&y, &dy, row_len, &mut dx);
        }
        for (a, n) in dx.iter().zip(finite_diff(forward, &x, &dy)) {
            assert!((a - n).abs() < 1e-7, "log={log}: analytic {a} vs numeric {n}");
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (rows, row_len) = (700, 197);
    let x = data::<f32>(rows * row_len, 5);
    let dy = data::<f32>(rows * row_len, 6);
    let run = |threads| {
        in_pool(threads, || {
            let (mut y, mut dx) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
            softmax_rows(&x, row_len, &mut y);
            softmax_backward_rows(&y, &dy, row_len, &mut dx);
            let mut bits: Vec<u32> = y.iter().chain(&dx).map(|v| v.to_bits()).collect();
            log_softmax_rows(&x, row_len, &mut y);
            log_softmax_backward_rows(&y, &dy, row_len, &mut dx);
            bits.extend(y.iter().chain(&dx).map(|v| v.to_bits()));
            bits
        })
    };
    assert!(run(1) == run(3));
}
