//! Elementwise binary ops, comparisons, and the in-place updates used for gradients.
//!
//! Each operand is either a slice or a scalar (broadcast), and each of the four combinations gets
//! its own loop, so the scalar stays in a register instead of being read from memory. Chunks are
//! independent, so results never depend on how rayon splits the work.

use rayon::prelude::*;

use super::simd::{self, multiversion, Cost, PAR_CHUNK_ELEMS};
use super::Float;

/// An elementwise function of two inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b` (IEEE: x/0 is ±inf, 0/0 is NaN).
    Div,
    /// The larger input; NaN if either is NaN (as PyTorch's `maximum`).
    Maximum,
    /// The smaller input; NaN if either is NaN.
    Minimum,
}

/// An elementwise comparison (IEEE semantics: every comparison with NaN is false except `Ne`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `a == b`.
    Eq,
    /// `a != b` (true when either is NaN).
    Ne,
    /// `a < b`.
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
}

/// One input of a binary op: a slice as long as the output, or a scalar broadcast to it.
#[derive(Clone, Copy, Debug)]
pub enum Operand<'a, T> {
    /// One element per output element; its length must equal the output's.
    Slice(&'a [T]),
    /// One value used for every output element.
    Scalar(T),
}

/// "binary Add": an op's name, formatted only when a panic message needs it.
struct OpName<'a>(&'static str, &'a dyn std::fmt::Debug);

impl std::fmt::Display for OpName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.0, self.1)
    }
}

impl<'a, T: Copy> Operand<'a, T> {
    /// Panics, naming the op, when a slice operand's length differs from the output's (`what` is
    /// only formatted then: this runs on every elementwise op).
    fn check_len(&self, what: &dyn std::fmt::Display, n: usize) {
        if let Operand::Slice(s) = self {
            assert_eq!(s.len(), n, "{what}: operand has {} elements but output has {n}", s.len());
        }
    }

    /// The part of the operand that feeds output chunk `chunk` of `PAR_CHUNK_ELEMS`.
    fn chunk(&self, chunk: usize) -> Operand<'a, T> {
        match *self {
            Operand::Slice(s) => {
                let start = chunk * PAR_CHUNK_ELEMS;
                Operand::Slice(&s[start..(start + PAR_CHUNK_ELEMS).min(s.len())])
            }
            Operand::Scalar(v) => Operand::Scalar(v),
        }
    }
}

/// `out[i] = op(a[i], b[i])`, either side possibly a scalar; panics on a length mismatch.
pub fn binary<T: Float>(op: BinaryOp, a: Operand<T>, b: Operand<T>, out: &mut [T]) {
    let what = OpName("binary", &op);
    a.check_len(&what, out.len());
    b.check_len(&what, out.len());
    let level = simd::level();
    let cost = if op == BinaryOp::Div { Cost::Heavy } else { Cost::Cheap };
    if out.len() < cost.par_min_elems() {
        binary_kernel(level, op, a, b, out);
    } else {
        out.par_chunks_mut(PAR_CHUNK_ELEMS)
            .enumerate()
            .for_each(|(i, out)| binary_kernel(level, op, a.chunk(i), b.chunk(i), out));
    }
}

/// `out[i] = (a[i] op b[i]) as u8` (1 for true, 0 for false); panics on a length mismatch.
pub fn compare<T: Float>(op: CmpOp, a: Operand<T>, b: Operand<T>, out: &mut [u8]) {
    let what = OpName("compare", &op);
    a.check_len(&what, out.len());
    b.check_len(&what, out.len());
    let level = simd::level();
    if out.len() < Cost::Cheap.par_min_elems() {
        compare_kernel(level, op, a, b, out);
    } else {
        out.par_chunks_mut(PAR_CHUNK_ELEMS)
            .enumerate()
            .for_each(|(i, out)| compare_kernel(level, op, a.chunk(i), b.chunk(i), out));
    }
}

/// `acc[i] += x[i]` (gradient accumulation); panics on a length mismatch.
pub fn accumulate<T: Float>(acc: &mut [T], x: &[T]) {
    axpby_checked("accumulate", T::ONE, x, T::ONE, acc);
}

/// `y[i] = alpha·x[i] + beta·y[i]`; with beta = 0, y is overwritten without being read (as BLAS).
pub fn axpby<T: Float>(alpha: T, x: &[T], beta: T, y: &mut [T]) {
    axpby_checked("axpby", alpha, x, beta, y);
}

fn axpby_checked<T: Float>(what: &str, alpha: T, x: &[T], beta: T, y: &mut [T]) {
    assert_eq!(x.len(), y.len(), "{what}: x has {} elements but y has {}", x.len(), y.len());
    let level = simd::level();
    if y.len() < Cost::Cheap.par_min_elems() {
        axpby_kernel(level, alpha, x, beta, y);
    } else {
        y.par_chunks_mut(PAR_CHUNK_ELEMS)
            .zip(x.par_chunks(PAR_CHUNK_ELEMS))
            .for_each(|(y, x)| axpby_kernel(level, alpha, x, beta, y));
    }
}

/// Emits the four loops (slice/scalar × slice/scalar) of one elementwise function `$f(x, y)`.
macro_rules! broadcast_loops {
    ($a:expr, $b:expr, $out:expr, |$x:ident, $y:ident| $e:expr) => {
        match ($a, $b) {
            (Operand::Slice(a), Operand::Slice(b)) => {
                for ((o, &$x), &$y) in $out.iter_mut().zip(a).zip(b) {
                    *o = $e;
                }
            }
            (Operand::Slice(a), Operand::Scalar($y)) => {
                for (o, &$x) in $out.iter_mut().zip(a) {
                    *o = $e;
                }
            }
            (Operand::Scalar($x), Operand::Slice(b)) => {
                for (o, &$y) in $out.iter_mut().zip(b) {
                    *o = $e;
                }
            }
            (Operand::Scalar($x), Operand::Scalar($y)) => $out.fill($e),
        }
    };
}

multiversion! {
    fn binary_kernel<T: Float>(op: BinaryOp, a: Operand<'_, T>, b: Operand<'_, T>, out: &mut [T])
        = binary_body;
}

#[inline(always)]
fn binary_body<T: Float>(op: BinaryOp, a: Operand<'_, T>, b: Operand<'_, T>, out: &mut [T]) {
    match op {
        BinaryOp::Add => broadcast_loops!(a, b, out, |x, y| x + y),
        BinaryOp::Sub => broadcast_loops!(a, b, out, |x, y| x - y),
        BinaryOp::Mul => broadcast_loops!(a, b, out, |x, y| x * y),
        BinaryOp::Div => broadcast_loops!(a, b, out, |x, y| x / y),
        // A compare-select vectorises (vmaxps alone would drop a NaN in `x`).
        BinaryOp::Maximum => {
            broadcast_loops!(a, b, out, |x, y| if x > y || x.is_nan() { x } else { y })
        }
        BinaryOp::Minimum => {
            broadcast_loops!(a, b, out, |x, y| if x < y || x.is_nan() { x } else { y })
        }
    }
}

multiversion! {
    fn compare_kernel<T: Float>(op: CmpOp, a: Operand<'_, T>, b: Operand<'_, T>, out: &mut [u8])
        = compare_body;
}

#[inline(always)]
fn compare_body<T: Float>(op: CmpOp, a: Operand<'_, T>, b: Operand<'_, T>, out: &mut [u8]) {
    match op {
        CmpOp::Eq => broadcast_loops!(a, b, out, |x, y| (x == y) as u8),
        CmpOp::Ne => broadcast_loops!(a, b, out, |x, y| (x != y) as u8),
        CmpOp::Lt => broadcast_loops!(a, b, out, |x, y| (x < y) as u8),
        CmpOp::Le => broadcast_loops!(a, b, out, |x, y| (x <= y) as u8),
        CmpOp::Gt => broadcast_loops!(a, b, out, |x, y| (x > y) as u8),
        CmpOp::Ge => broadcast_loops!(a, b, out, |x, y| (x >= y) as u8),
    }
}

multiversion! {
    fn axpby_kernel<T: Float>(alpha: T, x: &[T], beta: T, y: &mut [T]) = axpby_body;
}

#[inline(always)]
fn axpby_body<T: Float>(alpha: T, x: &[T], beta: T, y: &mut [T]) {
    let pairs = y.iter_mut().zip(x);
    if beta == T::ZERO {
        pairs.for_each(|(y, &x)| *y = alpha * x);
    } else if alpha == T::ONE && beta == T::ONE {
        pairs.for_each(|(y, &x)| *y += x);
    } else {
        pairs.for_each(|(y, &x)| *y = alpha.mul_add(x, beta * *y));
    }
}

#[cfg(test)]
#[path = "binary_tests.rs"]
mod tests;
