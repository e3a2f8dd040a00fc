//! Indexing: index_select, gather, scatter-add along an axis, and the row selection by mask that
//! masked image modelling needs (visible patches out of [B, N, D], and back in).
//!
//! Each op views its operands as [outer, axis, inner] blocks of a contiguous tensor, so the inner
//! block (e.g. a patch's D features) is copied as one slice.

use rayon::prelude::*;

use super::{element_dispatch, float_dispatch};
use crate::cpu::Float;
use crate::dtype::Element;
use crate::gpu;
use crate::{DType, Shape, Tensor};

/// Split `dims` around `axis` into (outer, size, inner) element counts.
fn around(dims: &[usize], axis: usize) -> (usize, usize, usize) {
    (dims[..axis].iter().product(), dims[axis], dims[axis + 1..].iter().product())
}

fn check_index(i: i64, size: usize, what: &str) -> usize {
    assert!(i >= 0 && (i as usize) < size, "{what}: index {i} is out of range for a dimension of size {size}");
    i as usize
}

fn indices_of(index: &Tensor, what: &str) -> Vec<i64> {
    assert_eq!(index.dtype(), DType::I64, "{what} takes i64 indices, got {}", index.dtype());
    index.to_vec::<i64>()
}

fn select<T: Element>(x: &Tensor, axis: usize, idx: &[i64]) -> Tensor {
    let (outer, size, inner) = around(x.dims(), axis);
    let src = x.values::<T>();
    // Checked up front, so a bad index is an error even where there is nothing to copy.
    let idx: Vec<usize> = idx.iter().map(|&i| check_index(i, size, "index_select")).collect();
    let mut out = Vec::with_capacity(outer * idx.len() * inner);
    for o in 0..outer {
        for &i in &idx {
            let start = (o * size + i) * inner;
            out.extend_from_slice(&src[start..start + inner]);
        }
    }
    let mut dims = x.dims().to_vec();
    dims[axis] = idx.len();
    Tensor::from_values(out, dims)
}

fn gather_impl<T: Element>(x: &Tensor, axis: usize, index: &Tensor, idx: &[i64]) -> Tensor {
    let (outer, size, inner) = around(x.dims(), axis);
    let k = index.dims()[axis];
    let src = x.values::<T>();
    let out: Vec<T> = (0..outer * k * inner)
        .map(|p| {
            let (o, i) = (p / (k * inner), p % inner);
            src[(o * size + check_index(idx[p], size, "gather")) * inner + i]
        })
        .collect();
    Tensor::from_values(out, index.shape().clone())
}

fn scatter_add_impl<T: Float + Element>(x: &Tensor, axis: usize, idx: &[i64], src: &Tensor) -> Tensor {
    let (_, size, inner) = around(x.dims(), axis);
    let k = src.dims()[axis];
    let add = src.values::<T>();
    let mut out = crate::pool::for_overwrite(x.numel()); // recycled: cross-entropy's backward is [N, vocab]
    out.copy_from_slice(&x.values::<T>());
    // Each outer block receives only its own slice of `src`, so blocks run in parallel without races.
    out.par_chunks_mut((size * inner).max(1)).enumerate().for_each(|(o, block)| {
        for j in 0..k {
            for i in 0..inner {
                let p = (o * k + j) * inner + i;
                block[check_index(idx[p], size, "scatter_add") * inner + i] += add[p];
            }
        }
    });
    Tensor::from_values(out, x.shape().clone())
}

fn take_rows_impl<T: Element>(x: &Tensor, idx: &[i64], k: usize) -> Tensor {
    let (b, n) = (x.dims()[0], x.dims()[1]);
    let inner: usize = x.dims()[2..].iter().product();
    let src = x.values::<T>();
    let mut out = Vec::with_capacity(b * k * inner);
    for (p, &i) in idx.iter().enumerate() {
        let start = ((p / k) * n + check_index(i, n, "take_rows")) * inner;
        out.extend_from_slice(&src[start..start + inner]);
    }
    let mut dims = x.dims().to_vec();
    dims[1] = k;
    Tensor::from_values(out, dims)
}

fn put_rows_impl<T: Element>(x: &Tensor, idx: &[i64], k: usize, rows: &Tensor, add: Option<fn(T, T) -> T>) -> Tensor {
    let n = x.dims()[1];
    let inner: usize = x.dims()[2..].iter().product();
    let src = rows.values::<T>();
    let mut out = x.values::<T>().into_owned();
    for (p, &i) in idx.iter().enumerate() {
        let dst = ((p / k) * n + check_index(i, n, "put_rows")) * inner;
        let row = &src[p * inner..(p + 1) * inner];
        match add {
            Some(f) => out[dst..dst + inner].iter_mut().zip(row).for_each(|(o, &r)| *o = f(*o, r)),
            None => out[dst..dst + inner].copy_from_slice(row),
        }
    }
    Tensor::from_values(out, x.shape().clone())
}

impl Tensor {
    /// Entries `index[j]` of `axis`, in that order: the result has `index.numel()` entries there.
    pub fn index_select(&self, axis: isize, index: &Tensor) -> Tensor {
        let axis = self.shape().axis(axis);
        assert_eq!(index.rank(), 1, "index_select takes a 1-D index, got shape {:?}", index.shape());
        if gpu::on_gpu(self) {
            return gpu::index::index_select(self, axis, index, self.gpu_storage().unwrap().ordinal());
        }
        let idx = indices_of(index, "index_select");
        element_dispatch!(self.dtype(), T => select::<T>(self, axis, &idx))
    }

    /// `out[.., j, ..] = self[.., index[.., j, ..], ..]` along `axis`; `index` has the shape of `self`
    /// except along `axis`.
    pub fn gather(&self, axis: isize, index: &Tensor) -> Tensor {
        let axis = self.shape().axis(axis);
        check_same_except(self.shape(), index.shape(), axis, "gather");
        if gpu::on_gpu(self) {
            return gpu::index::gather(self, axis, index, self.gpu_storage().unwrap().ordinal());
        }
        let idx = indices_of(index, "gather");
        element_dispatch!(self.dtype(), T => gather_impl::<T>(self, axis, index, &idx))
    }

    /// A copy of `self` with `src[.., j, ..]` added at `self[.., index[.., j, ..], ..]` along `axis`
    /// (repeated indices accumulate). `index` and `src` share a shape.
    pub fn scatter_add(&self, axis: isize, index: &Tensor, src: &Tensor) -> Tensor {
        let axis = self.shape().axis(axis);
        assert_eq!(
            index.shape(),
            src.shape(),
            "scatter_add: index {:?} and src {:?} differ",
            index.shape(),
            src.shape()
        );
        check_same_except(self.shape(), index.shape(), axis, "scatter_add");
        assert_eq!(self.dtype(), src.dtype(), "scatter_add of {} values into a {} tensor", src.dtype(), self.dtype());
        if let Some(n) = gpu::placement(&"scatter_add", &[self, src]) {
            return gpu::index::scatter_add(self, axis, index, src, n);
        }
        let idx = indices_of(index, "scatter_add");
        float_dispatch!(self.dtype(), "scatter_add", T => scatter_add_impl::<T>(self, axis, &idx, src))
    }

    /// For a u8 mask [B, N] with the same number K of ones in every row, the positions of the ones
    /// in each row as i64 [B, K] (ascending).
    pub fn mask_indices(&self) -> Tensor {
        assert!(
            self.dtype() == DType::U8 && self.rank() == 2,
            "mask_indices takes a u8 [B, N] mask, got {} {:?}",
            self.dtype(),
            self.shape()
        );
        let (b, n) = (self.dims()[0], self.dims()[1]);
        let mask = self.to_vec::<u8>();
        let rows: Vec<Vec<i64>> = mask
            .chunks(n.max(1))
            .map(|r| r.iter().enumerate().filter(|(_, &m)| m != 0).map(|(i, _)| i as i64).collect())
            .collect();
        let k = rows.first().map_or(0, Vec::len);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(
                r.len(),
                k,
                "mask row {i} selects {} positions but row 0 selects {k}: every row must select the same count",
                r.len()
            );
        }
        Tensor::from_values(rows.concat(), [b, k])
    }

    /// Rows `index[b, j]` of each batch entry: [B, N, ...] with i64 index [B, K] → [B, K, ...].
    pub fn take_rows(&self, index: &Tensor) -> Tensor {
        let k = check_row_index(self, index, "take_rows");
        if gpu::on_gpu(self) {
            return gpu::index::take_rows(self, index, k, self.gpu_storage().unwrap().ordinal());
        }
        let idx = indices_of(index, "take_rows");
        element_dispatch!(self.dtype(), T => take_rows_impl::<T>(self, &idx, k))
    }

    /// A copy of `self` [B, N, ...] with `rows` [B, K, ...] written (or, with `accumulate`, added) at
    /// rows `index[b, j]`.
    pub fn put_rows(&self, index: &Tensor, rows: &Tensor, accumulate: bool) -> Tensor {
        let k = check_row_index(self, index, "put_rows");
        let mut want = self.dims().to_vec();
        want[1] = k;
        assert_eq!(rows.dims(), &want[..], "put_rows: rows have shape {:?}, expected {want:?}", rows.shape());
        assert_eq!(rows.dtype(), self.dtype(), "put_rows: rows are {}, target is {}", rows.dtype(), self.dtype());
        if let Some(n) = gpu::placement(&"put_rows", &[self, rows]) {
            return gpu::index::put_rows(self, index, rows, accumulate, k, n);
        }
        let idx = indices_of(index, "put_rows");
        if accumulate {
            float_dispatch!(self.dtype(), "put_rows(accumulate)", T => put_rows_impl::<T>(self, &idx, k, rows, Some(|a, b| a + b)))
        } else {
            element_dispatch!(self.dtype(), T => put_rows_impl::<T>(self, &idx, k, rows, None))
        }
    }

    /// The rows of [B, N, ...] where the u8 mask [B, N] is set: [B, K, ...].
    pub fn masked_select_rows(&self, mask: &Tensor) -> Tensor {
        self.take_rows(&self.row_mask_indices(mask))
    }

    /// A copy of `self` [B, N, ...] with `rows` [B, K, ...] put back where the mask [B, N] is set.
    pub fn masked_put_rows(&self, mask: &Tensor, rows: &Tensor) -> Tensor {
        self.put_rows(&self.row_mask_indices(mask), rows, false)
    }

    /// [`Tensor::mask_indices`] of a mask over the rows of `self` [B, N, ...], which must be
    /// `[B, N]`: a shorter one would pass the index checks and quietly select among the first rows.
    pub fn row_mask_indices(&self, mask: &Tensor) -> Tensor {
        let fits = self.dims().get(..2).is_some_and(|rows| rows == mask.dims());
        assert!(fits, "row mask {:?} must be [B, N] of input {:?}", mask.shape(), self.shape());
        mask.mask_indices()
    }
}

fn check_same_except(x: &Shape, index: &Shape, axis: usize, what: &str) {
    let same = x.rank() == index.rank() && (0..x.rank()).all(|k| k == axis || x.dims()[k] == index.dims()[k]);
    assert!(same, "{what}: index shape {index:?} must match input shape {x:?} except along axis {axis}");
}

fn check_row_index(x: &Tensor, index: &Tensor, what: &str) -> usize {
    assert!(x.rank() >= 2, "{what} needs a [B, N, ...] tensor, got {:?}", x.shape());
    assert!(
        index.rank() == 2 && index.dims()[0] == x.dims()[0],
        "{what}: index must be [B, K] with B = {}, got {:?}",
        x.dims()[0],
        index.shape()
    );
    index.dims()[1]
}
