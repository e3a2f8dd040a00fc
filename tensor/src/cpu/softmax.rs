//! Softmax and log-softmax over rows, forward and backward.
//!
//! Forward subtracts the row maximum before exponentiating, so no row overflows. Each row is
//! handled by one task in full (max, exp and sum, scale: three passes over a row that stays in
//! L1), and its sums use the fixed accumulator layout of `reduce::lanes`, so results are bitwise
//! the same whatever the number of threads.
//!
//! Special rows, as in PyTorch: a row of all -inf has no maximum to subtract (-inf - -inf is NaN)
//! and gives NaN everywhere; a row containing NaN or +inf gives NaN everywhere; -inf elements in an
//! otherwise finite row give probability 0 (log-probability -inf).

use super::mathfn::FloatMath;
use super::reduce::{lanes, lanes2, max_nan, merge_tree, ACC_LANES};
use super::simd::{self, for_each_chunk, multiversion, PAR_CHUNK_ELEMS, PAR_MIN_ELEMS};

/// `out = softmax(x)` along each row of `row_len` elements.
pub fn softmax_rows<T: FloatMath>(x: &[T], row_len: usize, out: &mut [T]) {
    drive("softmax_rows", Kind::Softmax, x, &[], row_len, out);
}

/// `out = log_softmax(x) = x - max - ln Σ exp(x - max)` along each row.
pub fn log_softmax_rows<T: FloatMath>(x: &[T], row_len: usize, out: &mut [T]) {
    drive("log_softmax_rows", Kind::LogSoftmax, x, &[], row_len, out);
}

/// Backward of softmax from its output `y`: `dx = y·(dy - Σ dy·y)` per row.
pub fn softmax_backward_rows<T: FloatMath>(y: &[T], dy: &[T], row_len: usize, dx: &mut [T]) {
    drive("softmax_backward_rows", Kind::SoftmaxBackward, y, dy, row_len, dx);
}

/// Backward of log-softmax from its output `y`: `dx = dy - exp(y)·Σ dy` per row.
pub fn log_softmax_backward_rows<T: FloatMath>(y: &[T], dy: &[T], row_len: usize, dx: &mut [T]) {
    drive("log_softmax_backward_rows", Kind::LogSoftmaxBackward, y, dy, row_len, dx);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Softmax,
    LogSoftmax,
    SoftmaxBackward,
    LogSoftmaxBackward,
}

/// Checks the shapes and runs the kernel on groups of whole rows; `b` is empty for forwards.
fn drive<T: FloatMath>(what: &str, kind: Kind, a: &[T], b: &[T], row_len: usize, out: &mut [T]) {
    assert_eq!(a.len(), out.len(), "{what}: input has {} elements but output has {}", a.len(), out.len());
    if matches!(kind, Kind::SoftmaxBackward | Kind::LogSoftmaxBackward) {
        assert_eq!(b.len(), out.len(), "{what}: dy has {} elements but y has {}", b.len(), a.len());
    }
    assert!(
        (row_len == 0 && a.is_empty()) || a.len().checked_rem(row_len) == Some(0),
        "{what}: {} elements do not split into rows of {row_len}",
        a.len()
    );
    let level = simd::level();
    let rows_per_task = (PAR_CHUNK_ELEMS / row_len.max(1)).max(1);
    let chunk = rows_per_task * row_len;
    for_each_chunk(out.len() >= PAR_MIN_ELEMS, out, chunk, |t, out| {
        let range = t * chunk..t * chunk + out.len();
        let b = b.get(range.clone()).unwrap_or(&[]);
        softmax_kernel(level, kind, &a[range], b, row_len, out);
    });
}

multiversion! {
    fn softmax_kernel<T: FloatMath>(kind: Kind, a: &[T], b: &[T], row_len: usize, out: &mut [T])
        = softmax_body;
}

#[inline(always)]
fn softmax_body<T: FloatMath>(kind: Kind, a: &[T], b: &[T], row_len: usize, out: &mut [T]) {
    let add = |p: T, q: T| p + q;
    match kind {
        Kind::Softmax => {
            for (x, out) in a.chunks_exact(row_len).zip(out.chunks_exact_mut(row_len)) {
                let m = lanes(x, T::NEG_INFINITY, max_nan, max_nan);
                let inv = T::ONE / exp_and_sum(x, m, out);
                out.iter_mut().for_each(|o| *o *= inv);
            }
        }
        Kind::LogSoftmax => {
            for (x, out) in a.chunks_exact(row_len).zip(out.chunks_exact_mut(row_len)) {
                let m = lanes(x, T::NEG_INFINITY, max_nan, max_nan);
                let log_sum = lanes(x, T::ZERO, |s, v| s + (v - m).exp(), add).ln();
                out.iter_mut().zip(x).for_each(|(o, &v)| *o = (v - m) - log_sum);
            }
        }
        Kind::SoftmaxBackward => {
            let rows = a.chunks_exact(row_len).zip(b.chunks_exact(row_len));
            for ((y, dy), dx) in rows.zip(out.chunks_exact_mut(row_len)) {
                let dot = lanes2(y, dy, T::ZERO, |s, y, dy| y.mul_add(dy, s), add);
                for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
                    *dx = y * (dy - dot);
                }
            }
        }
        Kind::LogSoftmaxBackward => {
            let rows = a.chunks_exact(row_len).zip(b.chunks_exact(row_len));
            for ((y, dy), dx) in rows.zip(out.chunks_exact_mut(row_len)) {
                let sum = lanes(dy, T::ZERO, add, add);
                for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
                    *dx = (-y.exp()).mul_add(sum, dy);
                }
            }
        }
    }
}

/// Writes `out = exp(x - m)` and returns its sum, in one pass: each 64-element chunk is exponentiated
/// and added to `ACC_LANES` accumulators (the layout of `reduce::lanes`), and the row's tail goes
/// through a chunk padded with -inf (whose exp adds exactly 0), so the tail is vectorised too.
#[inline(always)]
fn exp_and_sum<T: FloatMath>(x: &[T], m: T, out: &mut [T]) -> T {
    let mut acc = [T::ZERO; ACC_LANES];
    let (mut xs, mut os) = (x.chunks_exact(ACC_LANES), out.chunks_exact_mut(ACC_LANES));
    for (xc, oc) in (&mut xs).zip(&mut os) {
        let (xc, oc) = (xc.try_into().expect("exact"), oc.try_into().expect("exact"));
        exp_chunk(xc, m, oc, &mut acc);
    }
    let (x_tail, o_tail) = (xs.remainder(), os.into_remainder());
    if !x_tail.is_empty() {
        let (mut xp, mut op) = ([T::NEG_INFINITY; ACC_LANES], [T::ZERO; ACC_LANES]);
        xp[..x_tail.len()].copy_from_slice(x_tail);
        exp_chunk(&xp, m, &mut op, &mut acc);
        o_tail.copy_from_slice(&op[..o_tail.len()]);
    }
    merge_tree(acc, |p, q| p + q)
}

/// One chunk of [`exp_and_sum`]. A function, not a closure: a closure this large, called from two
/// places, may be left out of line, and then runs without the caller's target features.
#[inline(always)]
fn exp_chunk<T: FloatMath>(x: &[T; ACC_LANES], m: T, out: &mut [T; ACC_LANES], acc: &mut [T; ACC_LANES]) {
    for ((a, o), &v) in acc.iter_mut().zip(out.iter_mut()).zip(x) {
        *o = (v - m).exp();
        *a += *o;
    }
}

#[cfg(test)]
#[path = "softmax_tests.rs"]
mod tests;
