//! Elementwise unary ops (`out[i] = f(x[i])`), vectorised per SIMD level and split across threads.
//!
//! The op is matched once, outside the loop, so each arm is its own tight loop that LLVM
//! vectorises with the op's body inlined (see `simd` for how the levels are compiled). Chunks are
//! independent, so the result never depends on how rayon splits the work.

use rayon::prelude::*;

use super::mathfn::FloatMath;
use super::simd::{self, multiversion, Cost, PAR_CHUNK_ELEMS};

/// An elementwise function of one input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    /// −x.
    Neg,
    /// e^x; +inf on overflow, 0 on underflow (f32: polynomial, rel. error ≤ 7.4e-8).
    Exp,
    /// Natural log: ln 0 = −inf, ln of a negative is NaN.
    Log,
    /// √x; NaN for x < 0.
    Sqrt,
    /// 1/√x, as a division of a correctly rounded square root; +inf at 0.
    Rsqrt,
    /// Hyperbolic tangent, saturating to ±1.
    Tanh,
    /// Exact (erf) GELU, x·Φ(x), not the tanh approximation; 0 at −inf.
    Gelu,
    /// GELU's derivative Φ(x) + x·φ(x); [`gelu_backward`] fuses it with the multiply by dy.
    GeluGrad,
    /// max(x, 0), with NaN passed through (as PyTorch does).
    Relu,
    /// 1 / (1 + e^−x).
    Sigmoid,
    /// |x|.
    Abs,
    /// x·x.
    Square,
    /// 1/x (±inf at ±0).
    Recip,
    /// x^p. Like PyTorch, p ∈ {0, 0.5, 1, 2, -0.5, -1} take the exact dedicated path
    /// (1, sqrt, copy, square, rsqrt, recip).
    Powf(f64),
}

/// `out[i] = op(x[i])` for every i; panics if the lengths differ.
pub fn unary<T: FloatMath>(op: UnaryOp, x: &[T], out: &mut [T]) {
    assert_eq!(x.len(), out.len(), "unary {op:?}: input has {} elements but output has {}", x.len(), out.len());
    let op = simplify(op);
    let level = simd::level();
    if x.len() < cost(op).par_min_elems() {
        unary_kernel(level, op, x, out);
    } else {
        out.par_chunks_mut(PAR_CHUNK_ELEMS)
            .zip(x.par_chunks(PAR_CHUNK_ELEMS))
            .for_each(|(out, x)| unary_kernel(level, op, x, out));
    }
}

/// `out[i] = dy[i] · gelu'(x[i])`: GELU's backward in one pass (as `GeluGrad` then a multiply it
/// reads x and dy once and writes once, instead of writing and re-reading an intermediate).
pub fn gelu_backward<T: FloatMath>(x: &[T], dy: &[T], out: &mut [T]) {
    assert!(
        x.len() == dy.len() && x.len() == out.len(),
        "gelu_backward: x has {} elements, dy {}, out {}",
        x.len(),
        dy.len(),
        out.len()
    );
    let level = simd::level();
    if x.len() < Cost::Heavy.par_min_elems() {
        gelu_backward_kernel(level, x, dy, out);
    } else {
        out.par_chunks_mut(PAR_CHUNK_ELEMS)
            .zip(x.par_chunks(PAR_CHUNK_ELEMS).zip(dy.par_chunks(PAR_CHUNK_ELEMS)))
            .for_each(|(out, (x, dy))| gelu_backward_kernel(level, x, dy, out));
    }
}

multiversion! {
    fn gelu_backward_kernel<T: FloatMath>(x: &[T], dy: &[T], out: &mut [T]) = gelu_backward_body;
}

#[inline(always)]
fn gelu_backward_body<T: FloatMath>(x: &[T], dy: &[T], out: &mut [T]) {
    for ((o, &v), &d) in out.iter_mut().zip(x).zip(dy) {
        *o = d * v.gelu_grad();
    }
}

/// Whether `op` is a few instructions per element (see [`Cost`]).
fn cost(op: UnaryOp) -> Cost {
    match op {
        UnaryOp::Neg | UnaryOp::Relu | UnaryOp::Abs | UnaryOp::Square | UnaryOp::Powf(0.0) | UnaryOp::Powf(1.0) => {
            Cost::Cheap
        }
        _ => Cost::Heavy,
    }
}

/// Maps the powers that have an exact dedicated op onto it.
fn simplify(op: UnaryOp) -> UnaryOp {
    match op {
        UnaryOp::Powf(0.5) => UnaryOp::Sqrt,
        UnaryOp::Powf(2.0) => UnaryOp::Square,
        UnaryOp::Powf(-0.5) => UnaryOp::Rsqrt,
        UnaryOp::Powf(-1.0) => UnaryOp::Recip,
        op => op,
    }
}

multiversion! {
    fn unary_kernel<T: FloatMath>(op: UnaryOp, x: &[T], out: &mut [T]) = unary_body;
}

#[inline(always)]
fn unary_body<T: FloatMath>(op: UnaryOp, x: &[T], out: &mut [T]) {
    macro_rules! map {
        (|$v:ident| $e:expr) => {
            for (o, &$v) in out.iter_mut().zip(x) {
                *o = $e;
            }
        };
    }
    match op {
        UnaryOp::Neg => map!(|v| -v),
        UnaryOp::Exp => map!(|v| v.exp()),
        UnaryOp::Log => map!(|v| v.ln()),
        UnaryOp::Sqrt => map!(|v| v.sqrt()),
        UnaryOp::Rsqrt => map!(|v| v.rsqrt()),
        UnaryOp::Tanh => map!(|v| v.tanh()),
        UnaryOp::Gelu => map!(|v| v.gelu()),
        UnaryOp::GeluGrad => map!(|v| v.gelu_grad()),
        UnaryOp::Relu => map!(|v| if v < T::ZERO { T::ZERO } else { v }),
        UnaryOp::Sigmoid => map!(|v| v.sigmoid()),
        UnaryOp::Abs => map!(|v| v.abs()),
        UnaryOp::Square => map!(|v| v * v),
        UnaryOp::Recip => map!(|v| v.recip()),
        UnaryOp::Powf(0.0) => out.fill(T::ONE),
        UnaryOp::Powf(1.0) => out.copy_from_slice(x),
        UnaryOp::Powf(p) => {
            let p = T::from_f64(p);
            map!(|v| v.powf(p))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::simd::{available_levels, with_level};

    const LENS: [usize; 10] = [0, 1, 7, 15, 16, 17, 33, 197, 1000, 100_003];
    const OPS: [UnaryOp; 18] = [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Tanh,
        UnaryOp::Gelu,
        UnaryOp::GeluGrad,
        UnaryOp::Relu,
        UnaryOp::Sigmoid,
        UnaryOp::Abs,
        UnaryOp::Square,
        UnaryOp::Recip,
        UnaryOp::Powf(0.0),
        UnaryOp::Powf(1.0),
        UnaryOp::Powf(2.0),
        UnaryOp::Powf(-0.5),
        UnaryOp::Powf(1.7),
    ];

    fn reference(op: UnaryOp, v: f64) -> f64 {
        match op {
            UnaryOp::Neg => -v,
            UnaryOp::Exp => v.exp(),
            UnaryOp::Log => v.ln(),
            UnaryOp::Sqrt => v.sqrt(),
            UnaryOp::Rsqrt => 1.0 / v.sqrt(),
            UnaryOp::Tanh => v.tanh(),
            UnaryOp::Gelu => FloatMath::gelu(v),
            UnaryOp::GeluGrad => FloatMath::gelu_grad(v),
            UnaryOp::Relu => v.max(0.0),
            UnaryOp::Sigmoid => 1.0 / (1.0 + (-v).exp()),
            UnaryOp::Abs => v.abs(),
            UnaryOp::Square => v * v,
            UnaryOp::Recip => 1.0 / v,
            UnaryOp::Powf(p) => v.powf(p),
        }
    }

    /// Inputs in (-4, 4) for most ops, positive for those with a restricted domain.
    fn input(op: UnaryOp, n: usize) -> Vec<f64> {
        let positive = matches!(op, UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Rsqrt | UnaryOp::Powf(_));
        (0..n)
            .map(|i| {
                let t = ((i * 7919) % 1009) as f64 / 1009.0;
                if positive {
                    0.01 + 4.0 * t
                } else {
                    8.0 * t - 3.99
                }
            })
            .collect()
    }

    fn check<T: FloatMath>(tol: f64) {
        for level in available_levels() {
            for op in OPS {
                for n in LENS {
                    let x64 = input(op, n);
                    let x: Vec<T> = x64.iter().map(|&v| T::from_f64(v)).collect();
                    let mut out = vec![T::ZERO; n];
                    with_level(level, || unary(op, &x, &mut out));
                    for i in 0..n {
                        let want = reference(op, x[i].to_f64());
                        let got = out[i].to_f64();
                        let err = (got - want).abs() / want.abs().max(1.0);
                        assert!(err <= tol, "{level:?} {op:?} n={n} i={i}: {got} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn matches_f64_reference_at_every_level() {
        check::<f32>(2e-6);
        check::<f64>(1e-14);
    }

    #[test]
    fn every_level_computes_the_same_bits() {
        let x: Vec<f32> = input(UnaryOp::Gelu, 1000).iter().map(|&v| v as f32).collect();
        for op in [UnaryOp::Exp, UnaryOp::Gelu, UnaryOp::Tanh, UnaryOp::GeluGrad] {
            let outs: Vec<Vec<u32>> = available_levels()
                .into_iter()
                .map(|level| {
                    let mut out = vec![0.0f32; x.len()];
                    with_level(level, || unary(op, &x, &mut out));
                    out.iter().map(|v| v.to_bits()).collect()
                })
                .collect();
            assert!(outs.windows(2).all(|w| w[0] == w[1]), "{op:?} differs");
        }
    }

    #[test]
    fn special_values_pass_through() {
        let x = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0];
        let mut out = [0.0f32; 5];
        unary(UnaryOp::Relu, &x, &mut out);
        assert!(out[0].is_nan() && out[1] == f32::INFINITY && out[2] == 0.0);
        unary(UnaryOp::Exp, &x, &mut out);
        assert!(out[0].is_nan());
        assert_eq!(&out[1..], &[f32::INFINITY, 0.0, 1.0, 1.0]);
        unary(UnaryOp::Log, &x, &mut out);
        assert!(out[0].is_nan() && out[2].is_nan());
        assert_eq!([out[1], out[3], out[4]], [f32::INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY]);
    }

    #[test]
    #[should_panic(expected = "unary Exp: input has 3 elements but output has 2")]
    fn length_mismatch_panics() {
        unary(UnaryOp::Exp, &[1.0f32; 3], &mut [0.0f32; 2]);
    }
}
