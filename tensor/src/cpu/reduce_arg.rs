//! argmax / argmin over the middle axis of `[outer, len, inner]`: the first index of the extreme
//! value, with NaN counting as more extreme than any number (as PyTorch does).
//!
//! Rows (`inner = 1`) take two passes: the vectorised NaN-aware max of the row, then a scan for its
//! first occurrence. Columns keep a row of best values and a row of indices, updated with
//! compare-selects along `inner`. The result is exact, so no blocking is needed for determinism.

use super::{check_dims, fold_row, Fold, COL_CHUNK};
use crate::cpu::simd::{self, for_each_chunk, multiversion, Cost, PAR_CHUNK_ELEMS};
use crate::cpu::Float;

/// Index along `len` of the first largest element (NaN counts as largest); panics if `len = 0`.
pub fn argmax<T: Float>(x: &[T], outer: usize, len: usize, inner: usize, out: &mut [i64]) {
    arg_extreme(true, x, outer, len, inner, out);
}

/// Index along `len` of the first smallest element (NaN counts as smallest); panics if `len = 0`.
pub fn argmin<T: Float>(x: &[T], outer: usize, len: usize, inner: usize, out: &mut [i64]) {
    arg_extreme(false, x, outer, len, inner, out);
}

fn arg_extreme<T: Float>(is_max: bool, x: &[T], outer: usize, len: usize, inner: usize, out: &mut [i64]) {
    let what = if is_max { "argmax" } else { "argmin" };
    check_dims(what, x, (outer, len, inner), out.len());
    assert!(len > 0 || out.is_empty(), "{what}: cannot reduce over an empty axis");
    let level = simd::level();
    let parallel = x.len() >= Cost::Cheap.par_min_elems();
    if inner == 1 {
        let rows_per_task = (PAR_CHUNK_ELEMS / len.max(1)).max(1);
        for_each_chunk(parallel, out, rows_per_task, |t, outs| {
            for (k, o) in outs.iter_mut().enumerate() {
                let r = t * rows_per_task + k;
                let row = &x[r * len..(r + 1) * len];
                let fold = if is_max { Fold::Max } else { Fold::Min };
                let m = fold_row(level, fold, row, T::ZERO);
                let hit = |&v: &T| v == m || (m.is_nan() && v.is_nan());
                *o = row.iter().position(hit).expect("the extreme is in the row") as i64;
            }
        });
    } else {
        for_each_chunk(parallel, out, inner, |o, orow| {
            let slab = &x[o * len * inner..(o + 1) * len * inner];
            for_each_chunk(parallel, orow, COL_CHUNK, |c, idx| {
                let mut best = vec![T::ZERO; idx.len()];
                arg_col_kernel(level, is_max, slab, inner, c * COL_CHUNK, &mut best, idx);
            });
        });
    }
}

multiversion! {
    fn arg_col_kernel<T: Float>(
        is_max: bool,
        slab: &[T],
        inner: usize,
        col_start: usize,
        best: &mut [T],
        idx: &mut [i64],
    ) = arg_col_body;
}

#[inline(always)]
fn arg_col_body<T: Float>(is_max: bool, slab: &[T], inner: usize, col_start: usize, best: &mut [T], idx: &mut [i64]) {
    let cols = col_start..col_start + best.len();
    best.copy_from_slice(&slab[cols.clone()]);
    idx.fill(0);
    for (l, row) in slab.chunks_exact(inner).enumerate().skip(1) {
        for ((b, i), &v) in best.iter_mut().zip(idx.iter_mut()).zip(&row[cols.clone()]) {
            // Strictly better only, so the first index wins ties; a NaN best is never replaced.
            let beats = if is_max { v > *b } else { v < *b };
            let better = !b.is_nan() && (v.is_nan() || beats);
            if better {
                *b = v;
                *i = l as i64;
            }
        }
    }
}
