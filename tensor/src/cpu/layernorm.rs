//! Layer normalisation over rows, forward and backward.
//!
//! Forward, per row of D: mean, then the variance as the mean of (x - mean)² (two passes over a row
//! in L1: no cancellation, unlike E\[x²\] - mean²), rstd = 1/√(var + eps), and
//! `out = (x - mean)·rstd·w + b`. Mean and rstd are saved for the backward.
//!
//! Backward, with x̂ = (x - mean)·rstd and g = dy·w:
//! `dx = rstd·(g - mean(g) - x̂·mean(g·x̂))`, `dweight = Σ_rows dy·x̂`, `dbias = Σ_rows dy`.
//! dx is per row; dweight and dbias sum over rows, so rows are cut into blocks of
//! [`LN_BLOCK_ROWS`] (a constant, not a function of the thread count), each block sums into its
//! own partial row, and the partials are summed in block order: bitwise the same on any number of
//! threads.

use rayon::prelude::*;

use super::mathfn::FloatMath;
use super::reduce::{fold_columns, lanes, lanes2, Fold};
use super::simd::{self, multiversion, Cost, PAR_CHUNK_ELEMS};

/// One forward task's rows: (out, (mean, rstd)).
type RowsTask<'a, T> = (&'a mut [T], (&'a mut [T], &'a mut [T]));

/// Rows per partial of dweight/dbias in the backward.
pub const LN_BLOCK_ROWS: usize = 64;

fn rows_of<T>(what: &str, x: &[T], row_len: usize) -> usize {
    assert!(
        (row_len == 0 && x.is_empty()) || x.len().checked_rem(row_len) == Some(0),
        "{what}: {} elements do not split into rows of {row_len}",
        x.len()
    );
    x.len().checked_div(row_len).unwrap_or(0)
}

fn check_len<T>(what: &str, name: &str, s: &[T], want: usize) {
    assert_eq!(s.len(), want, "{what}: {name} has {} elements, expected {want}", s.len());
}

/// Normalises each row of `x`, then scales by `weight` and shifts by `bias` (both of `row_len`);
/// writes the per-row `mean` and `rstd` = 1/√(var + eps) for the backward.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_rows<T: FloatMath>(
    x: &[T],
    row_len: usize,
    weight: Option<&[T]>,
    bias: Option<&[T]>,
    eps: T,
    out: &mut [T],
    mean: &mut [T],
    rstd: &mut [T],
) {
    const WHAT: &str = "layer_norm_rows";
    let rows = rows_of(WHAT, x, row_len);
    check_len(WHAT, "out", out, x.len());
    check_len(WHAT, "mean", mean, rows);
    check_len(WHAT, "rstd", rstd, rows);
    let (w, b) = (weight.unwrap_or(&[]), bias.unwrap_or(&[]));
    check_len(WHAT, "weight", w, if weight.is_some() { row_len } else { 0 });
    check_len(WHAT, "bias", b, if bias.is_some() { row_len } else { 0 });
    let level = simd::level();
    let rows_per_task = (PAR_CHUNK_ELEMS / row_len.max(1)).max(1);
    let task = |(t, (out, (mean, rstd))): (usize, RowsTask<T>)| {
        let x = &x[t * rows_per_task * row_len..][..out.len()];
        ln_forward_kernel(level, x, row_len, w, b, eps, out, mean, rstd);
    };
    let chunk = rows_per_task * row_len;
    if x.len() >= Cost::Heavy.par_min_elems() {
        let stats = mean.par_chunks_mut(rows_per_task).zip(rstd.par_chunks_mut(rows_per_task));
        out.par_chunks_mut(chunk).zip(stats).enumerate().for_each(task);
    } else if rows > 0 {
        let stats = mean.chunks_mut(rows_per_task).zip(rstd.chunks_mut(rows_per_task));
        out.chunks_mut(chunk).zip(stats).enumerate().for_each(task);
    }
}

multiversion! {
    #[allow(clippy::too_many_arguments)]
    fn ln_forward_kernel<T: FloatMath>(
        x: &[T],
        row_len: usize,
        w: &[T],
        b: &[T],
        eps: T,
        out: &mut [T],
        mean: &mut [T],
        rstd: &mut [T],
    ) = ln_forward_body;
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn ln_forward_body<T: FloatMath>(
    x: &[T],
    row_len: usize,
    w: &[T],
    b: &[T],
    eps: T,
    out: &mut [T],
    mean: &mut [T],
    rstd: &mut [T],
) {
    let add = |p: T, q: T| p + q;
    let inv_n = T::ONE / T::from_usize(row_len);
    let rows = x.chunks_exact(row_len).zip(out.chunks_exact_mut(row_len));
    for ((x, out), (mean, rstd)) in rows.zip(mean.iter_mut().zip(rstd.iter_mut())) {
        let m = lanes(x, T::ZERO, add, add) * inv_n;
        let var = lanes(x, T::ZERO, |s, v| (v - m).mul_add(v - m, s), add) * inv_n;
        let r = (var + eps).rsqrt();
        (*mean, *rstd) = (m, r);
        let xs = out.iter_mut().zip(x);
        match (w.is_empty(), b.is_empty()) {
            (true, true) => xs.for_each(|(o, &v)| *o = (v - m) * r),
            (true, false) => xs.zip(b).for_each(|((o, &v), &b)| *o = (v - m).mul_add(r, b)),
            (false, true) => xs.zip(w).for_each(|((o, &v), &w)| *o = (v - m) * r * w),
            (false, false) => xs.zip(w.iter().zip(b)).for_each(|((o, &v), (&w, &b))| *o = ((v - m) * r).mul_add(w, b)),
        }
    }
}

/// Gradients of [`layer_norm_rows`]: `dx` from the upstream `dy` and the saved `mean`/`rstd`,
/// and, when asked for, `dweight`/`dbias` (each `row_len`), overwritten with their sums over rows.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward_rows<T: FloatMath>(
    x: &[T],
    dy: &[T],
    row_len: usize,
    weight: Option<&[T]>,
    mean: &[T],
    rstd: &[T],
    dx: &mut [T],
    dweight: Option<&mut [T]>,
    dbias: Option<&mut [T]>,
) {
    const WHAT: &str = "layer_norm_backward_rows";
    let rows = rows_of(WHAT, x, row_len);
    for (name, s) in [("dy", dy), ("dx", &*dx)] {
        check_len(WHAT, name, s, x.len());
    }
    check_len(WHAT, "mean", mean, rows);
    check_len(WHAT, "rstd", rstd, rows);
    let w = weight.unwrap_or(&[]);
    check_len(WHAT, "weight", w, if weight.is_some() { row_len } else { 0 });
    for (name, grad) in [("dweight", &dweight), ("dbias", &dbias)] {
        if let Some(g) = grad {
            check_len(WHAT, name, g, row_len);
        }
    }
    let want_params = dweight.is_some() || dbias.is_some();
    let level = simd::level();
    let blocks = rows.div_ceil(LN_BLOCK_ROWS);
    // Partial row b holds [Σ dy·x̂ | Σ dy] over the rows of block b.
    let partial_len = 2 * row_len;
    let mut partials = vec![T::ZERO; blocks * partial_len];
    let block_elems = LN_BLOCK_ROWS * row_len;
    let task = |(blk, (dx, partial)): (usize, (&mut [T], &mut [T]))| {
        let span = blk * block_elems..blk * block_elems + dx.len();
        let stats = blk * LN_BLOCK_ROWS..blk * LN_BLOCK_ROWS + dx.len() / row_len;
        let (x, dy) = (&x[span.clone()], &dy[span]);
        let (mean, rstd) = (&mean[stats.clone()], &rstd[stats]);
        let partial = if want_params { partial } else { &mut [] };
        ln_backward_kernel(level, x, dy, row_len, w, mean, rstd, dx, partial);
    };
    if rows == 0 {
        // Nothing to do but zero the parameter gradients below.
    } else if x.len() >= Cost::Heavy.par_min_elems() {
        let parts = partials.par_chunks_mut(partial_len);
        dx.par_chunks_mut(block_elems).zip(parts).enumerate().for_each(task);
    } else {
        let parts = partials.chunks_mut(partial_len);
        dx.chunks_mut(block_elems).zip(parts).enumerate().for_each(task);
    }
    if !want_params {
        return;
    }
    let mut sums = vec![T::ZERO; partial_len];
    if blocks > 0 {
        fold_columns(level, Fold::Sum, &partials, (1, blocks, partial_len), &[], &mut sums);
    }
    let (sum_w, sum_b) = sums.split_at(row_len);
    if let Some(dw) = dweight {
        dw.copy_from_slice(sum_w);
    }
    if let Some(db) = dbias {
        db.copy_from_slice(sum_b);
    }
}

multiversion! {
    #[allow(clippy::too_many_arguments)]
    fn ln_backward_kernel<T: FloatMath>(
        x: &[T],
        dy: &[T],
        row_len: usize,
        w: &[T],
        mean: &[T],
        rstd: &[T],
        dx: &mut [T],
        partial: &mut [T],
    ) = ln_backward_body;
}

/// One block of rows: dx for each row, and (when `partial` is not empty) the block's sums.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn ln_backward_body<T: FloatMath>(
    x: &[T],
    dy: &[T],
    row_len: usize,
    w: &[T],
    mean: &[T],
    rstd: &[T],
    dx: &mut [T],
    partial: &mut [T],
) {
    let add = |p: T, q: T| p + q;
    let inv_n = T::ONE / T::from_usize(row_len);
    let rows = x.chunks_exact(row_len).zip(dy.chunks_exact(row_len));
    let stats = mean.iter().zip(rstd);
    for (((x, dy), dx), (&m, &r)) in rows.zip(dx.chunks_exact_mut(row_len)).zip(stats) {
        // g = dy·w, staged in dx, which is then overwritten in place.
        if w.is_empty() {
            dx.copy_from_slice(dy);
        } else {
            dx.iter_mut().zip(dy).zip(w).for_each(|((g, &d), &w)| *g = d * w);
        }
        let mean_g = lanes(dx, T::ZERO, add, add) * inv_n;
        let mean_gx = lanes2(dx, x, T::ZERO, |s, g, v| (g * (v - m)).mul_add(r, s), add) * inv_n;
        for (g, &v) in dx.iter_mut().zip(x) {
            let xhat = (v - m) * r;
            *g = r * (*g - mean_g - xhat * mean_gx);
        }
        if !partial.is_empty() {
            let (pw, pb) = partial.split_at_mut(row_len);
            for ((pw, &d), &v) in pw.iter_mut().zip(dy).zip(x) {
                *pw = d.mul_add((v - m) * r, *pw);
            }
            pb.iter_mut().zip(dy).for_each(|(pb, &d)| *pb += d);
        }
    }
}

#[cfg(test)]
#[path = "layernorm_tests.rs"]
mod tests;
