//! Reductions over the middle axis of a contiguous array viewed as `[outer, len, inner]`.
//!
//! `inner = 1` reduces rows: each row is folded into [`ACC_LANES`] independent accumulators (a
//! fixed-size array LLVM keeps in vector registers), which are then combined in a fixed tree. Rows
//! longer than [`ROW_BLOCK`] are cut into blocks whose partial results are combined in order.
//! `inner > 1` reduces columns: each row of `inner` elements is folded into a row of accumulators,
//! vectorised along `inner`; the `len` rows are cut into blocks of [`COL_BLOCK_ROWS`], each folded
//! into its own partial row, and the partials are combined in block order.
//!
//! Blocks make sums more accurate (errors grow with the block length, not with `len`) and give
//! rayon independent tasks; because their boundaries are constants, the result is bitwise the same
//! whatever the number of threads.

use super::simd::{self, for_each_chunk, multiversion, Cost, SimdLevel, PAR_CHUNK_ELEMS};
use super::Float;

/// Independent accumulators per row reduction: 4 zmm of f32, enough to hide the add latency.
pub const ACC_LANES: usize = 64;
/// Row elements per block of a long row reduction.
pub const ROW_BLOCK: usize = 1 << 14;
/// Rows per partial in a column reduction.
pub const COL_BLOCK_ROWS: usize = 256;
/// Columns per task in a column reduction (16 KiB of f32 accumulators stay in L1).
pub const COL_CHUNK: usize = 4096;

/// What a reduction computes over its axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    /// Σ x, summed in fixed blocks and lanes, so the bits do not depend on the thread count; 0 over
    /// an empty axis.
    Sum,
    /// Largest element; NaN if any element is NaN; -inf over an empty axis.
    Max,
    /// Smallest element; NaN if any element is NaN; +inf over an empty axis.
    Min,
    /// Σ x².
    SumSquares,
}

/// The folds the kernels run: the public ops plus Σ (x - c)² for variance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fold {
    Sum,
    SumSquares,
    /// Σ (x - c)², c given per row (row kernel) or per column (column kernel).
    SqDev,
    Max,
    Min,
}

impl Fold {
    fn identity<T: Float>(self) -> T {
        match self {
            Fold::Sum | Fold::SumSquares | Fold::SqDev => T::ZERO,
            Fold::Max => T::NEG_INFINITY,
            Fold::Min => T::INFINITY,
        }
    }

    /// The fold that merges two partial results of this one.
    fn combiner(self) -> Fold {
        match self {
            Fold::Sum | Fold::SumSquares | Fold::SqDev => Fold::Sum,
            other => other,
        }
    }
}

impl From<ReduceOp> for Fold {
    fn from(op: ReduceOp) -> Fold {
        match op {
            ReduceOp::Sum => Fold::Sum,
            ReduceOp::Max => Fold::Max,
            ReduceOp::Min => Fold::Min,
            ReduceOp::SumSquares => Fold::SumSquares,
        }
    }
}

#[path = "reduce_lanes.rs"]
mod lanes_impl;
pub(crate) use lanes_impl::{lanes, lanes2, max_nan, merge_tree, min_nan};

multiversion! {
    fn row_fold_kernel<T: Float>(fold: Fold, row: &[T], center: T) -> T = row_fold_body;
}

#[inline(always)]
fn row_fold_body<T: Float>(fold: Fold, row: &[T], center: T) -> T {
    let add = |a: T, b: T| a + b;
    match fold {
        Fold::Sum => lanes(row, T::ZERO, add, add),
        Fold::SumSquares => lanes(row, T::ZERO, |a, x: T| x.mul_add(x, a), add),
        Fold::SqDev => lanes(row, T::ZERO, |a, x: T| (x - center).mul_add(x - center, a), add),
        Fold::Max => lanes(row, T::NEG_INFINITY, max_nan, max_nan),
        Fold::Min => lanes(row, T::INFINITY, min_nan, min_nan),
    }
}

/// Folds one row (of any length) deterministically: blocks of `ROW_BLOCK`, combined in order.
pub(crate) fn fold_row<T: Float>(level: SimdLevel, fold: Fold, row: &[T], center: T) -> T {
    if row.len() <= ROW_BLOCK {
        return row_fold_kernel(level, fold, row, center);
    }
    let blocks = row.len().div_ceil(ROW_BLOCK);
    let mut partials = vec![T::ZERO; blocks];
    for_each_chunk(row.len() >= Cost::Cheap.par_min_elems(), &mut partials, 1, |b, p| {
        let block = &row[b * ROW_BLOCK..((b + 1) * ROW_BLOCK).min(row.len())];
        p[0] = row_fold_kernel(level, fold, block, center);
    });
    row_fold_kernel(level, fold.combiner(), &partials, T::ZERO)
}

multiversion! {
    fn col_fold_kernel<T: Float>(
        fold: Fold,
        block: &[T],
        inner: usize,
        col_start: usize,
        centers: &[T],
        acc: &mut [T],
    ) = col_fold_body;
}

/// `acc[j] = fold(acc[j], row[col_start + j])` for each row of `block` (rows of `inner`).
#[inline(always)]
fn col_fold_body<T: Float>(fold: Fold, block: &[T], inner: usize, col_start: usize, centers: &[T], acc: &mut [T]) {
    let cols = col_start..col_start + acc.len();
    macro_rules! each_row {
        (|$a:ident, $x:ident| $e:expr) => {
            for row in block.chunks_exact(inner) {
                for ($a, &$x) in acc.iter_mut().zip(&row[cols.clone()]) {
                    *$a = $e;
                }
            }
        };
    }
    match fold {
        Fold::Sum => each_row!(|a, x| *a + x),
        Fold::SumSquares => each_row!(|a, x| x.mul_add(x, *a)),
        Fold::Max => each_row!(|a, x| max_nan(*a, x)),
        Fold::Min => each_row!(|a, x| min_nan(*a, x)),
        Fold::SqDev => {
            for row in block.chunks_exact(inner) {
                for ((a, &x), &c) in acc.iter_mut().zip(&row[cols.clone()]).zip(centers) {
                    *a = (x - c).mul_add(x - c, *a);
                }
            }
        }
    }
}

/// Column reduction of `[outer, len, inner]` into `out` `[outer, inner]`; `centers` (same shape
/// as `out`) only for `Fold::SqDev`.
pub(crate) fn fold_columns<T: Float>(
    level: SimdLevel,
    fold: Fold,
    x: &[T],
    dims: (usize, usize, usize),
    centers: &[T],
    out: &mut [T],
) {
    let (outer, len, inner) = dims;
    let blocks = len.div_ceil(COL_BLOCK_ROWS).max(1);
    let parallel = x.len() >= Cost::Cheap.par_min_elems();
    // Task: (outer index o, row block b, column chunk) → partial row [o, b, chunk].
    let fold_blocks = |partials: &mut [T]| {
        for_each_chunk(parallel, partials, inner, |ob, prow| {
            let (o, b) = (ob / blocks, ob % blocks);
            let rows = b * COL_BLOCK_ROWS..((b + 1) * COL_BLOCK_ROWS).min(len);
            let block = &x[(o * len + rows.start) * inner..(o * len + rows.end) * inner];
            for_each_chunk(parallel, prow, COL_CHUNK, |c, acc| {
                let start = c * COL_CHUNK;
                let centers = centers.get(o * inner + start..).unwrap_or(&[]);
                acc.fill(fold.identity());
                col_fold_kernel(level, fold, block, inner, start, centers, acc);
            });
        });
    };
    if blocks == 1 {
        // The partials have the shape of `out`: fold straight into it.
        return fold_blocks(out);
    }
    let mut partials = vec![T::ZERO; outer * blocks * inner];
    fold_blocks(&mut partials);
    for_each_chunk(parallel, out, inner, |o, orow| {
        let slab = &partials[o * blocks * inner..(o + 1) * blocks * inner];
        for_each_chunk(parallel, orow, COL_CHUNK, |c, acc| {
            let start = c * COL_CHUNK;
            acc.copy_from_slice(&slab[start..start + acc.len()]);
            col_fold_kernel(level, fold.combiner(), &slab[inner..], inner, start, &[], acc);
        });
    });
}

fn check_dims<T>(what: &str, x: &[T], dims: (usize, usize, usize), out_len: usize) {
    let (outer, len, inner) = dims;
    assert_eq!(
        x.len(),
        outer * len * inner,
        "{what}: input has {} elements, expected outer·len·inner = {outer}·{len}·{inner}",
        x.len()
    );
    assert_eq!(out_len, outer * inner, "{what}: output has {out_len} elements, expected outer·inner = {outer}·{inner}");
}

/// Folds every row of `[outer, len]` into `out`, with `center(row)` for `Fold::SqDev`.
fn fold_rows<T: Float>(
    level: SimdLevel,
    fold: Fold,
    x: &[T],
    len: usize,
    out: &mut [T],
    center: impl Fn(usize) -> T + Sync + Send,
) {
    let rows_per_task = (PAR_CHUNK_ELEMS / len.max(1)).max(1);
    for_each_chunk(x.len() >= Cost::Cheap.par_min_elems(), out, rows_per_task, |t, outs| {
        for (k, o) in outs.iter_mut().enumerate() {
            let r = t * rows_per_task + k;
            *o = fold_row(level, fold, &x[r * len..(r + 1) * len], center(r));
        }
    });
}

/// Reduces `x` viewed as `[outer, len, inner]` over `len` into `out` (`[outer, inner]`).
/// An empty axis gives the identity (0 for sums, -inf for Max, +inf for Min).
pub fn reduce<T: Float>(op: ReduceOp, x: &[T], outer: usize, len: usize, inner: usize, out: &mut [T]) {
    check_dims("reduce", x, (outer, len, inner), out.len());
    let level = simd::level();
    if inner == 1 {
        fold_rows(level, op.into(), x, len, out, |_| T::ZERO);
    } else {
        fold_columns(level, op.into(), x, (outer, len, inner), &[], out);
    }
}

/// Variance over `len` of `x` viewed as `[outer, len, inner]`, divided by `len - correction`
/// (0 = population, 1 = sample; NaN when that is ≤ 0). Two passes: the mean, then Σ (x - mean)².
pub fn variance<T: Float>(x: &[T], outer: usize, len: usize, inner: usize, correction: usize, out: &mut [T]) {
    check_dims("variance", x, (outer, len, inner), out.len());
    let level = simd::level();
    let inv_len = T::ONE / T::from_usize(len);
    let inv_dof = T::ONE / T::from_usize(len.saturating_sub(correction));
    if inner == 1 {
        fold_rows(level, Fold::SqDev, x, len, out, |r| {
            fold_row(level, Fold::Sum, &x[r * len..(r + 1) * len], T::ZERO) * inv_len
        });
    } else {
        let mut means = vec![T::ZERO; out.len()];
        fold_columns(level, Fold::Sum, x, (outer, len, inner), &[], &mut means);
        means.iter_mut().for_each(|m| *m *= inv_len);
        fold_columns(level, Fold::SqDev, x, (outer, len, inner), &means, out);
    }
    // 0·inf would hide the NaN of a zero-dof variance when the deviations are exactly 0.
    out.iter_mut().for_each(|v| *v = if len > correction { *v * inv_dof } else { T::from_f64(f64::NAN) });
}

#[path = "reduce_arg.rs"]
mod arg;
pub use arg::{argmax, argmin};

#[cfg(test)]
#[path = "reduce_tests.rs"]
mod tests;
