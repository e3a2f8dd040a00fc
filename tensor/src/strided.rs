//! Walking a strided view row by row: the machinery under `contiguous()` and under every op that
//! reads a view it cannot hand to a kernel as one slice.
//!
//! A view's dimensions are first *merged* where they sit back to back in memory (so a contiguous
//! [B, N, D] tensor becomes one run of B·N·D elements, and a narrowed [B, N, D] becomes B·N runs of D),
//! then the innermost merged dimension is the "row" copied in one tight loop.

use std::borrow::Cow;

use rayon::prelude::*;

use crate::Layout;

/// Below this many elements a copy runs on the calling thread: spawning costs more than it saves.
const PARALLEL_MIN_ELEMS: usize = 1 << 16;

/// A layout with mergeable dimensions merged and size-1 dimensions dropped.
#[derive(Clone, Debug)]
pub struct Walk {
    /// Outer dimensions (all but the row), outermost first.
    outer_dims: Vec<usize>,
    outer_strides: Vec<usize>,
    /// Elements per row and the stride between them.
    pub row_len: usize,
    /// Storage step, in elements, between neighbours in a row (1 for a dense row, 0 for a broadcast
    /// one).
    pub row_stride: usize,
    /// Storage index of the view's first element (the layout's offset).
    pub offset: usize,
}

impl Walk {
    /// Merges the dims of `layout` that are back to back in memory (`stride[k] ==
    /// dims[k+1] · stride[k+1]`, so broadcast dims merge too) and drops size-1 dims; `row_len` is 0
    /// for an empty view, and a rank-0 view is one row of one element.
    pub fn new(layout: &Layout) -> Walk {
        let mut dims: Vec<usize> = Vec::new();
        let mut strides: Vec<usize> = Vec::new();
        for (&d, &s) in layout.dims().iter().zip(layout.strides()) {
            if d == 1 {
                continue;
            }
            match (dims.last_mut(), strides.last_mut()) {
                // The previous dim steps exactly over one whole run of this one: merge them.
                (Some(pd), Some(ps)) if *ps == d * s => {
                    *pd *= d;
                    *ps = s;
                }
                _ => {
                    dims.push(d);
                    strides.push(s);
                }
            }
        }
        let (row_len, row_stride) = match (dims.pop(), strides.pop()) {
            (Some(d), Some(s)) => (d, s),
            _ => (1, 1),
        };
        let row_len = if layout.shape().numel() == 0 { 0 } else { row_len };
        Walk { outer_dims: dims, outer_strides: strides, row_len, row_stride, offset: layout.offset() }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.outer_dims.iter().product()
    }

    /// Storage index of the first element of row `r`.
    #[inline]
    pub fn row_start(&self, mut r: usize) -> usize {
        let mut off = self.offset;
        for (&d, &s) in self.outer_dims.iter().zip(&self.outer_strides).rev() {
            off += (r % d) * s;
            r /= d;
        }
        off
    }

    /// Storage index of element `i` (row-major order over the view).
    #[inline]
    pub fn element_start(&self, i: usize) -> usize {
        let row_len = self.row_len.max(1);
        self.row_start(i / row_len) + (i % row_len) * self.row_stride
    }

    /// True when the whole view is one contiguous run.
    pub fn is_single_run(&self) -> bool {
        self.outer_dims.is_empty() && self.row_stride == 1
    }
}

/// Copy row `r` of the walk into `dst` (which holds exactly one row).
#[inline]
fn copy_row<T: Copy>(src: &[T], walk: &Walk, r: usize, dst: &mut [T]) {
    let start = walk.row_start(r);
    if walk.row_stride == 1 {
        dst.copy_from_slice(&src[start..start + walk.row_len]);
    } else {
        for (i, d) in dst.iter_mut().enumerate() {
            *d = src[start + i * walk.row_stride];
        }
    }
}

/// The elements of a view in row-major order: borrowed when they already are, gathered otherwise.
pub fn view_values<'a, T: Copy + Send + Sync + Default + 'static>(buf: &'a [T], layout: &Layout) -> Cow<'a, [T]> {
    if layout.is_contiguous() {
        let start = layout.offset();
        Cow::Borrowed(&buf[start..start + layout.shape().numel()])
    } else {
        Cow::Owned(gather_contiguous(buf, layout))
    }
}

/// The elements of a view in row-major order, as a new vector.
pub fn gather_contiguous<T: Copy + Send + Sync + Default + 'static>(src: &[T], layout: &Layout) -> Vec<T> {
    let n = layout.shape().numel();
    let walk = Walk::new(layout);
    if walk.is_single_run() {
        return src[walk.offset..walk.offset + n].to_vec();
    }
    let mut out = crate::pool::for_overwrite(n);
    if n == 0 {
        return out;
    }
    let row_len = walk.row_len;
    if n < PARALLEL_MIN_ELEMS {
        for (r, dst) in out.chunks_mut(row_len).enumerate() {
            copy_row(src, &walk, r, dst);
        }
    } else {
        // Give each task a block of rows large enough to amortise the scheduling.
        let rows_per_task = PARALLEL_MIN_ELEMS.div_ceil(row_len).max(1);
        out.par_chunks_mut(rows_per_task * row_len).enumerate().for_each(|(t, block)| {
            for (i, dst) in block.chunks_mut(row_len).enumerate() {
                copy_row(src, &walk, t * rows_per_task + i, dst);
            }
        });
    }
    out
}

/// Storage index of every element of a view, in row-major order (for index-driven ops and tests).
pub fn element_offsets(layout: &Layout) -> Vec<usize> {
    let walk = Walk::new(layout);
    let mut out = Vec::with_capacity(layout.shape().numel());
    for r in 0..walk.rows() {
        let start = walk.row_start(r);
        out.extend((0..walk.row_len).map(|i| start + i * walk.row_stride));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_offsets(layout: &Layout) -> Vec<usize> {
        let dims = layout.dims();
        let n = layout.shape().numel();
        (0..n)
            .map(|mut flat| {
                let mut off = layout.offset();
                for k in (0..dims.len()).rev() {
                    off += (flat % dims[k]) * layout.strides()[k];
                    flat /= dims[k];
                }
                off
            })
            .collect()
    }

    #[test]
    fn walk_matches_naive_indexing_on_views() {
        let base = Layout::contiguous([4, 5, 6]);
        let views = [
            base.clone(),
            base.permute(&[2, 0, 1]),
            base.narrow(2, 1, 3),
            base.narrow(0, 1, 2).permute(&[1, 0, 2]),
            Layout::contiguous([5, 1]).broadcast_to(&crate::Shape::from([3, 5, 4])),
            base.narrow(1, 2, 0),
        ];
        for v in &views {
            assert_eq!(element_offsets(v), naive_offsets(v), "view {v:?}");
        }
    }

    #[test]
    fn gather_handles_large_parallel_copies() {
        let src: Vec<u32> = (0..300 * 500).collect();
        let t = Layout::contiguous([300, 500]).permute(&[1, 0]);
        let out = gather_contiguous(&src, &t);
        let expect: Vec<u32> = naive_offsets(&t).into_iter().map(|o| src[o]).collect();
        assert_eq!(out, expect);
    }
}
