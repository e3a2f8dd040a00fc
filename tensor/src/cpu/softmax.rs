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
use super::reduce::{lanes, lanes2, merge_tree, ACC_LANES};
use super::simd::{self, for_each_chunk, multiversion, Cost, PAR_CHUNK_ELEMS};
use super::tail::{load_padded, split_blocks, split_blocks_mut, store_prefix, Block};
use super::Float;

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
    for_each_chunk(out.len() >= Cost::Heavy.par_min_elems(), out, chunk, |t, out| {
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
                let m = row_max(x);
                let (sum, tail) = exp_and_sum(x, m, split_blocks_mut(out).0);
                scale(out, tail, T::ONE / sum);
            }
        }
        Kind::LogSoftmax => {
            for (x, out) in a.chunks_exact(row_len).zip(out.chunks_exact_mut(row_len)) {
                let m = row_max(x);
                let log_sum = sum_exp(x, m).ln();
                shift(x, m, log_sum, out);
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

/// The row's maximum. A plain `max` (one `vmaxps`), not NaN-propagating: a NaN or +inf that it
/// misses still reaches every output through `exp(x - m)` and the sum.
#[inline(always)]
fn row_max<T: Float>(x: &[T]) -> T {
    let (blocks, tail) = split_blocks(x);
    let mut acc = load_padded(tail, T::NEG_INFINITY);
    for block in blocks {
        for (a, &v) in acc.iter_mut().zip(block) {
            *a = a.max(v);
        }
    }
    merge_tree(acc, T::max)
}

/// Writes `out = exp(x - m)` for the row's full blocks and returns the sum of all its terms, plus
/// the tail's terms as a block (for [`scale`] to store: storing and reloading a masked block would
/// stall, as masked stores do not forward to loads). Each block is exponentiated and added to
/// `ACC_LANES` accumulators (the layout of `reduce::lanes`); the tail is padded with -inf, whose
/// exp adds exactly 0.
#[inline(always)]
fn exp_and_sum<T: FloatMath>(x: &[T], m: T, out: &mut [Block<T>]) -> (T, Block<T>) {
    let mut acc = [T::ZERO; ACC_LANES];
    let (xb, xt) = split_blocks(x);
    for (xc, oc) in xb.iter().zip(out) {
        *oc = exp_block(xc, m, &mut acc);
    }
    let tail = exp_block(&load_padded(xt, T::NEG_INFINITY), m, &mut acc);
    (merge_tree(acc, |p, q| p + q), tail)
}

/// Σ exp(x - m), in the same order as [`exp_and_sum`], without storing the terms.
#[inline(always)]
fn sum_exp<T: FloatMath>(x: &[T], m: T) -> T {
    let mut acc = [T::ZERO; ACC_LANES];
    let (blocks, tail) = split_blocks(x);
    for block in blocks {
        exp_block(block, m, &mut acc);
    }
    exp_block(&load_padded(tail, T::NEG_INFINITY), m, &mut acc);
    merge_tree(acc, |p, q| p + q)
}

/// exp(x - m) of one block, also added to `acc`. A function, not a closure: a closure this
/// large, called from two places, may be left out of line, and then runs without the caller's
/// target features.
#[inline(always)]
fn exp_block<T: FloatMath>(x: &Block<T>, m: T, acc: &mut Block<T>) -> Block<T> {
    let mut e = [T::ZERO; ACC_LANES];
    for ((e, a), &v) in e.iter_mut().zip(acc.iter_mut()).zip(x) {
        *e = (v - m).exp_nonpos();
        *a += *e;
    }
    e
}

/// `out *= s` over the full blocks, then `out_tail = tail * s`.
#[inline(always)]
fn scale<T: Float>(out: &mut [T], tail: Block<T>, s: T) {
    let (blocks, out_tail) = split_blocks_mut(out);
    for block in blocks {
        block.iter_mut().for_each(|v| *v *= s);
    }
    store_prefix(&tail.map(|v| v * s), out_tail);
}

/// `out = (x - m) - c`, the tail as a masked block. Subtracting `m` first keeps the result exact
/// near the maximum (`x - m` has no rounding error there), unlike `x - (m + c)`.
#[inline(always)]
fn shift<T: Float>(x: &[T], m: T, c: T, out: &mut [T]) {
    let ((xb, xt), (ob, ot)) = (split_blocks(x), split_blocks_mut(out));
    for (xc, oc) in xb.iter().zip(ob) {
        oc.iter_mut().zip(xc).for_each(|(o, &v)| *o = (v - m) - c);
    }
    let mut t = load_padded(xt, T::ZERO);
    t.iter_mut().for_each(|v| *v = (*v - m) - c);
    store_prefix(&t, ot);
}

#[cfg(test)]
#[path = "softmax_tests.rs"]
mod tests;
