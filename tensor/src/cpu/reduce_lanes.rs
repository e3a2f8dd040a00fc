//! The accumulator layout every row reduction shares: [`ACC_LANES`] independent accumulators (a
//! fixed-size array LLVM keeps in vector registers, so the adds of one lane do not wait on the
//! others), folded element by element, then merged in a fixed tree. The order of operations is
//! spelled out in the source, so it is the same at every SIMD level and on every thread count.

use super::ACC_LANES;
use crate::cpu::Float;

/// max that propagates NaN from either side; a compare-select, so it vectorises.
#[inline(always)]
pub(crate) fn max_nan<T: Float>(a: T, b: T) -> T {
    if b > a || b.is_nan() {
        b
    } else {
        a
    }
}

#[inline(always)]
pub(crate) fn min_nan<T: Float>(a: T, b: T) -> T {
    if b < a || b.is_nan() {
        b
    } else {
        a
    }
}

/// Folds `row` into `ACC_LANES` accumulators, then combines them in a fixed tree.
#[inline(always)]
pub(crate) fn lanes<T: Float>(row: &[T], init: T, step: impl Fn(T, T) -> T, merge: impl Fn(T, T) -> T) -> T {
    let mut acc = [init; ACC_LANES];
    let mut chunks = row.chunks_exact(ACC_LANES);
    for chunk in &mut chunks {
        // A fixed-size array lets LLVM drop the bounds checks and map `acc` onto registers.
        let chunk: &[T; ACC_LANES] = chunk.try_into().expect("exact chunk");
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = step(*a, x);
        }
    }
    for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *a = step(*a, x);
    }
    merge_tree(acc, merge)
}

/// As [`lanes`], over two rows of equal length read side by side (`step(acc, a[i], b[i])`).
#[inline(always)]
pub(crate) fn lanes2<T: Float>(a: &[T], b: &[T], init: T, step: impl Fn(T, T, T) -> T, merge: impl Fn(T, T) -> T) -> T {
    assert_eq!(a.len(), b.len(), "lanes2: rows of different lengths");
    let mut acc = [init; ACC_LANES];
    let (mut a_chunks, mut b_chunks) = (a.chunks_exact(ACC_LANES), b.chunks_exact(ACC_LANES));
    for (ca, cb) in (&mut a_chunks).zip(&mut b_chunks) {
        let ca: &[T; ACC_LANES] = ca.try_into().expect("exact chunk");
        let cb: &[T; ACC_LANES] = cb.try_into().expect("exact chunk");
        for ((acc, &x), &y) in acc.iter_mut().zip(ca).zip(cb) {
            *acc = step(*acc, x, y);
        }
    }
    let tails = a_chunks.remainder().iter().zip(b_chunks.remainder());
    for (acc, (&x, &y)) in acc.iter_mut().zip(tails) {
        *acc = step(*acc, x, y);
    }
    merge_tree(acc, merge)
}

/// Combines the accumulators pairwise, upper half into lower half: a fixed order at every level.
///
/// Each level is its own fixed-size array, stored to memory (`black_box`) so that LLVM's SLP
/// vectoriser starts from those stores and emits whole vector operations (two zmm, one zmm, one
/// ymm, ...), forwarded straight back from the store buffer. Without them it sees a tree of scalar
/// adds ending in one value, takes it for a reduction it may not reorder (no fast-math), and leaves
/// ~60 scalar adds behind lane shuffles: more work per row than a 197-wide softmax itself.
#[inline(always)]
pub(crate) fn merge_tree<T: Float>(acc: [T; ACC_LANES], merge: impl Fn(T, T) -> T) -> T {
    const _: () = assert!(ACC_LANES == 64, "merge_tree spells out the levels of 64 lanes");
    let a: [T; 32] = halve(&acc, &merge);
    let a: [T; 16] = halve(&a, &merge);
    let a: [T; 8] = halve(&a, &merge);
    let a: [T; 4] = halve(&a, &merge);
    let a: [T; 2] = halve(&a, &merge);
    merge(a[0], a[1])
}

/// One level of [`merge_tree`]: `out[i] = merge(a[i], a[i + H])`, with `N = 2H`.
#[inline(always)]
fn halve<T: Float, const N: usize, const H: usize>(a: &[T; N], merge: &impl Fn(T, T) -> T) -> [T; H] {
    debug_assert_eq!(N, 2 * H, "halve: the output is half the input");
    let (lo, hi) = a.split_at(H);
    let mut out = [T::ZERO; H];
    for ((o, &p), &q) in out.iter_mut().zip(lo).zip(hi) {
        *o = merge(p, q);
    }
    // Not a benchmark trick: the store it forces is what makes the level a vector op (see above).
    std::hint::black_box(&mut out);
    out
}
