//! Tests of the binary kernels against scalar f64 references, at every SIMD level.
//!
//! +, -, ×, ÷ of two f32 computed in f64 and rounded back are correctly rounded, so every kernel
//! must match its reference exactly.

use super::*;
use crate::cpu::simd::{available_levels, with_level};

// The last is above `Cost::Cheap.par_min_elems()`, so the split across threads is covered too.
const LENS: [usize; 10] = [0, 1, 7, 15, 16, 17, 33, 197, 1000, 200_003];
const OPS: [BinaryOp; 6] =
    [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum, BinaryOp::Minimum];
const CMPS: [CmpOp; 6] = [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge];

fn reference(op: BinaryOp, x: f64, y: f64) -> f64 {
    match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => x / y,
        BinaryOp::Maximum if x.is_nan() || y.is_nan() => f64::NAN,
        BinaryOp::Maximum => x.max(y),
        BinaryOp::Minimum if x.is_nan() || y.is_nan() => f64::NAN,
        BinaryOp::Minimum => x.min(y),
    }
}

fn cmp_reference(op: CmpOp, x: f64, y: f64) -> u8 {
    (match op {
        CmpOp::Eq => x == y,
        CmpOp::Ne => x != y,
        CmpOp::Lt => x < y,
        CmpOp::Le => x <= y,
        CmpOp::Gt => x > y,
        CmpOp::Ge => x >= y,
    }) as u8
}

/// A pseudo-random sequence with repeats (so Eq is sometimes true) and a few NaNs.
fn data<T: Float>(n: usize, seed: usize) -> Vec<T> {
    (0..n)
        .map(|i| match (i * 7919 + seed * 104_729) % 211 {
            0 => T::from_f64(f64::NAN),
            k => T::from_f64(k as f64 / 16.0 - 6.5),
        })
        .collect()
}

fn same<T: Float>(a: T, b: T) -> bool {
    a.to_f64().to_bits() == b.to_f64().to_bits() || (a.is_nan() && b.is_nan())
}

fn check<T: Float>() {
    for level in available_levels() {
        for n in LENS {
            let (xs, ys) = (data::<T>(n, 1), data::<T>(n, 2));
            let s = T::from_f64(0.75);
            let cases: [(Operand<T>, Operand<T>); 4] = [
                (Operand::Slice(&xs), Operand::Slice(&ys)),
                (Operand::Slice(&xs), Operand::Scalar(s)),
                (Operand::Scalar(s), Operand::Slice(&ys)),
                (Operand::Scalar(s), Operand::Scalar(T::from_f64(-2.0))),
            ];
            let at = |o: &Operand<T>, i: usize| match o {
                Operand::Slice(v) => v[i].to_f64(),
                Operand::Scalar(v) => v.to_f64(),
            };
            for (a, b) in cases {
                for op in OPS {
                    let mut out = vec![T::ZERO; n];
                    with_level(level, || binary(op, a, b, &mut out));
                    for (i, &got) in out.iter().enumerate() {
                        let want = T::from_f64(reference(op, at(&a, i), at(&b, i)));
                        assert!(same(got, want), "{level:?} {op:?} n={n} i={i}: {got:?} vs {want:?}");
                    }
                }
                for op in CMPS {
                    let mut out = vec![7u8; n];
                    with_level(level, || compare(op, a, b, &mut out));
                    for (i, &got) in out.iter().enumerate() {
                        assert_eq!(got, cmp_reference(op, at(&a, i), at(&b, i)), "{op:?} i={i}");
                    }
                }
            }
            let mut y = ys.clone();
            with_level(level, || axpby(T::from_f64(0.5), &xs, T::from_f64(-3.0), &mut y));
            for i in 0..n {
                let want = 0.5 * xs[i].to_f64() + -3.0 * ys[i].to_f64();
                let got = y[i].to_f64();
                assert!(same(y[i], T::from_f64(want)) || (got - want).abs() <= 1e-6 * want.abs());
            }
            let mut acc = ys.clone();
            with_level(level, || accumulate(&mut acc, &xs));
            for i in 0..n {
                assert!(same(acc[i], T::from_f64(xs[i].to_f64() + ys[i].to_f64())));
            }
        }
    }
}

#[test]
fn matches_reference_at_every_level() {
    check::<f32>();
    check::<f64>();
}

#[test]
fn axpby_with_zero_beta_ignores_old_values() {
    let mut y = [f32::NAN; 3];
    axpby(2.0, &[1.0, 2.0, 3.0], 0.0, &mut y);
    assert_eq!(y, [2.0, 4.0, 6.0]);
}

#[test]
#[should_panic(expected = "binary Add: operand has 2 elements but output has 3")]
fn length_mismatch_panics() {
    let mut out = [0.0f32; 3];
    binary(BinaryOp::Add, Operand::Slice(&[1.0; 3]), Operand::Slice(&[1.0; 2]), &mut out);
}
