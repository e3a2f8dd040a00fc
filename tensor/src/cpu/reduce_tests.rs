//! Tests of the reductions against scalar f64 references, at every SIMD level, on rows and
//! columns, plus the thread-count determinism check.

use super::*;
use crate::cpu::in_pool;
use crate::cpu::simd::{available_levels, with_level};

/// (outer, len, inner) shapes covering rows, columns, long rows and blocked columns.
const SHAPES: [(usize, usize, usize); 14] = [
    (3, 0, 1),
    (2, 0, 5),
    (1, 1, 1),
    (5, 7, 1),
    (4, 15, 1),
    (3, 16, 1),
    (2, 17, 1),
    (3, 33, 1),
    (7, 197, 1),
    (2, 100_003, 1),
    (3, 7, 17),
    (2, 33, 197),
    (1, 1000, 33),
    (1, 2, 100_003),
];

fn data<T: Float>(n: usize) -> Vec<T> {
    (0..n).map(|i| T::from_f64(((i * 7919) % 1009) as f64 / 101.0 - 4.0)).collect()
}

/// The reduction of column (o, i) in f64, by a plain loop.
fn reference(op: ReduceOp, x: &[f64], (_, len, inner): (usize, usize, usize), o: usize, i: usize) -> f64 {
    let vals = (0..len).map(|l| x[(o * len + l) * inner + i]);
    match op {
        ReduceOp::Sum => vals.sum(),
        ReduceOp::SumSquares => vals.map(|v| v * v).sum(),
        ReduceOp::Max => vals.fold(f64::NEG_INFINITY, f64::max),
        ReduceOp::Min => vals.fold(f64::INFINITY, f64::min),
    }
}

fn check<T: Float>(tol: f64) {
    for level in available_levels() {
        for dims in SHAPES {
            let (outer, len, inner) = dims;
            let x = data::<T>(outer * len * inner);
            let x64: Vec<f64> = x.iter().map(|v| v.to_f64()).collect();
            for op in [ReduceOp::Sum, ReduceOp::SumSquares, ReduceOp::Max, ReduceOp::Min] {
                let mut out = vec![T::ZERO; outer * inner];
                with_level(level, || reduce(op, &x, outer, len, inner, &mut out));
                for o in 0..outer {
                    for i in 0..inner {
                        let want = reference(op, &x64, dims, o, i);
                        let got = out[o * inner + i].to_f64();
                        let scale = 1.0 + (len as f64) * 16.0;
                        assert!(
                            got == want || (got - want).abs() <= tol * scale,
                            "{level:?} {op:?} {dims:?} ({o},{i}): {got} vs {want}"
                        );
                    }
                }
            }
            if len == 0 {
                continue;
            }
            let mut var = vec![T::ZERO; outer * inner];
            let (mut amax, mut amin) = (vec![-1i64; outer * inner], vec![-1i64; outer * inner]);
            with_level(level, || {
                variance(&x, outer, len, inner, 1, &mut var);
                argmax(&x, outer, len, inner, &mut amax);
                argmin(&x, outer, len, inner, &mut amin);
            });
            for o in 0..outer {
                for i in 0..inner {
                    let col: Vec<f64> = (0..len).map(|l| x64[(o * len + l) * inner + i]).collect();
                    let mean = col.iter().sum::<f64>() / len as f64;
                    let ssd: f64 = col.iter().map(|v| (v - mean) * (v - mean)).sum();
                    let want = if len > 1 { ssd / (len - 1) as f64 } else { f64::NAN };
                    let got = var[o * inner + i].to_f64();
                    assert!(
                        (got.is_nan() && want.is_nan()) || (got - want).abs() <= tol * 16.0 * want,
                        "{level:?} variance {dims:?}: {got} vs {want}"
                    );
                    let max = col.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let min = col.iter().cloned().fold(f64::INFINITY, f64::min);
                    assert_eq!(amax[o * inner + i], col.iter().position(|&v| v == max).unwrap() as i64);
                    assert_eq!(amin[o * inner + i], col.iter().position(|&v| v == min).unwrap() as i64);
                }
            }
        }
    }
}

#[test]
fn matches_f64_reference_at_every_level() {
    check::<f32>(1e-6);
    check::<f64>(1e-14);
}

#[test]
fn nan_propagates_and_wins_argmax_and_argmin() {
    let x = [1.0f32, f32::NAN, 3.0, f32::NAN, -2.0];
    let mut out = [0.0f32; 1];
    for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min] {
        reduce(op, &x, 1, 5, 1, &mut out);
        assert!(out[0].is_nan(), "{op:?}");
    }
    reduce(ReduceOp::Max, &x, 1, 5, 1, &mut out);
    let mut idx = [0i64; 1];
    argmax(&x, 1, 5, 1, &mut idx);
    assert_eq!(idx[0], 1);
    argmin(&x, 1, 5, 1, &mut idx);
    assert_eq!(idx[0], 1);
    // The same along columns: x as [1, 5, 1] transposed to [1, 5, 2] with a second clean column.
    let cols: Vec<f32> = x.iter().flat_map(|&v| [v, 0.0]).collect();
    let mut idx2 = [0i64; 2];
    argmax(&cols, 1, 5, 2, &mut idx2);
    assert_eq!(idx2, [1, 0]);
    let mut out2 = [0.0f32; 2];
    reduce(ReduceOp::Max, &cols, 1, 5, 2, &mut out2);
    assert!(out2[0].is_nan() && out2[1] == 0.0);
}

#[test]
fn empty_axis_gives_identity_and_nan_variance() {
    let mut out = [1.0f32; 2];
    reduce(ReduceOp::Max, &[], 2, 0, 1, &mut out);
    assert_eq!(out, [f32::NEG_INFINITY; 2]);
    reduce(ReduceOp::Min, &[], 1, 0, 2, &mut out);
    assert_eq!(out, [f32::INFINITY; 2]);
    variance(&[3.0f32, 4.0], 2, 1, 1, 1, &mut out);
    assert!(out.iter().all(|v| v.is_nan()));
    variance(&[3.0f32, 4.0], 2, 1, 1, 0, &mut out);
    assert_eq!(out, [0.0; 2]);
}

#[test]
#[should_panic(expected = "argmax: cannot reduce over an empty axis")]
fn argmax_of_empty_axis_panics() {
    argmax::<f32>(&[], 1, 0, 1, &mut [0]);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let shapes = [(1, 300_007, 1), (3, 40_000, 1), (1, 12_608, 384), (2, 3000, 100)];
    for (outer, len, inner) in shapes {
        let x = data::<f32>(outer * len * inner);
        let run = |threads| {
            in_pool(threads, || {
                let mut bits = Vec::new();
                for op in [ReduceOp::Sum, ReduceOp::SumSquares, ReduceOp::Max] {
                    let mut out = vec![0.0f32; outer * inner];
                    reduce(op, &x, outer, len, inner, &mut out);
                    bits.extend(out.iter().map(|v| v.to_bits()));
                }
                let mut var = vec![0.0f32; outer * inner];
                variance(&x, outer, len, inner, 0, &mut var);
                bits.extend(var.iter().map(|v| v.to_bits()));
                bits
            })
        };
        assert!(run(1) == run(3), "shape {:?}", (outer, len, inner));
    }
}
