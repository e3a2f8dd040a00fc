//! Indexing on the GPU, all through the row gather/scatter kernels of `kernels::gather`: every op
//! turns its index into a flat list of rows (or single elements) of a contiguous f32 source, on the
//! host, where it is bounds-checked, and uploads it as u32. An index tensor may live on either device
//! (one on the GPU is read back for the check).
//!
//! Writes (`put_rows`, `scatter_add`) need distinct target rows: the kernel gives no order to two
//! writes of one row, so repeated targets panic instead of giving an order-dependent answer.

use std::collections::HashSet;

use kernels::{gather, Buffer};

use super::copy::{alloc_f32, dense_f32, f32_slice, wrap_f32};
use super::{check, runtime, unsupported};
use crate::{DType, Tensor};

fn indices(index: &Tensor, what: &str) -> Vec<i64> {
    assert_eq!(index.dtype(), DType::I64, "{what} takes i64 indices, got {}", index.dtype());
    index.to_vec::<i64>()
}

fn row(i: i64, size: usize, what: &str) -> usize {
    assert!(i >= 0 && (i as usize) < size, "{what}: index {i} is out of range for a dimension of size {size}");
    i as usize
}

fn upload(flat: &[usize], n: usize, what: &str) -> Buffer<u32> {
    let v: Vec<u32> = flat.iter().map(|&r| u32::try_from(r).expect("GPU row indices are 32-bit")).collect();
    check(what, n, runtime(n).upload(&v))
}

fn f32_only(x: &Tensor, what: &str) {
    if x.dtype() != DType::F32 {
        unsupported(&format!("{what} of {} tensors", x.dtype()), x);
    }
}

/// Rows `flat` (each `cols` wide) of the contiguous f32 `src`, as a new buffer.
fn take(src: &Tensor, flat: &[usize], cols: usize, n: usize, what: &str) -> Buffer<f32> {
    let out = alloc_f32(what, n, flat.len() * cols);
    if !flat.is_empty() && cols > 0 {
        let idx = upload(flat, n, what);
        check(what, n, gather::take_rows(&runtime(n), &out, &f32_slice(src, what), &idx, cols));
    }
    out
}

/// A fresh copy of `x` with rows `flat` replaced (or, with `add`, incremented) by the rows of `rows`.
fn put(x: &Tensor, flat: &[usize], rows: &Tensor, add: bool, cols: usize, n: usize, what: &str) -> Tensor {
    let mut seen = HashSet::new();
    for &r in flat {
        assert!(
            seen.insert(r),
            "{what} on the GPU: row {r} is written twice; repeated targets are not supported there"
        );
    }
    let dst = super::copy::contiguous_copy(x);
    let rows = dense_f32(rows, what);
    let rows = if add {
        let current = wrap_f32(n, take(&dst, flat, cols, n, what), rows.shape().clone());
        current.add(&rows)
    } else {
        rows
    };
    if !flat.is_empty() && cols > 0 {
        let idx = upload(flat, n, what);
        let buf = dst.gpu_storage().unwrap().f32(what);
        check(what, n, gather::put_rows(&runtime(n), buf, &f32_slice(&rows, what), &idx, cols));
    }
    dst
}

/// Rows `index[b, j]` of each batch entry: [B, N, ...] -> [B, K, ...].
pub(crate) fn take_rows(x: &Tensor, index: &Tensor, k: usize, n: usize) -> Tensor {
    let what = "take_rows";
    f32_only(x, what);
    let (b, rows) = (x.dims()[0], x.dims()[1]);
    let inner: usize = x.dims()[2..].iter().product();
    let flat: Vec<usize> =
        indices(index, what).iter().enumerate().map(|(p, &i)| (p / k.max(1)) * rows + row(i, rows, what)).collect();
    let src = dense_f32(x, what);
    let mut dims = x.dims().to_vec();
    dims[1] = k;
    debug_assert_eq!(flat.len(), b * k);
    wrap_f32(n, take(&src, &flat, inner, n, what), dims)
}

/// A copy of `x` [B, N, ...] with `rows` [B, K, ...] written (or added) at rows `index[b, j]`.
pub(crate) fn put_rows(x: &Tensor, index: &Tensor, rows: &Tensor, accumulate: bool, k: usize, n: usize) -> Tensor {
    let what = "put_rows";
    f32_only(x, what);
    let nrows = x.dims()[1];
    let inner: usize = x.dims()[2..].iter().product();
    let flat: Vec<usize> =
        indices(index, what).iter().enumerate().map(|(p, &i)| (p / k.max(1)) * nrows + row(i, nrows, what)).collect();
    put(x, &flat, rows, accumulate, inner, n, what)
}

/// Entries `index` of `axis`.
pub(crate) fn index_select(x: &Tensor, axis: usize, index: &Tensor, n: usize) -> Tensor {
    let what = "index_select";
    f32_only(x, what);
    let (outer, size, inner) = around(x.dims(), axis);
    let idx = indices(index, what);
    let flat: Vec<usize> = (0..outer).flat_map(|o| idx.iter().map(move |&i| o * size + row(i, size, what))).collect();
    let mut dims = x.dims().to_vec();
    dims[axis] = idx.len();
    wrap_f32(n, take(&dense_f32(x, what), &flat, inner, n, what), dims)
}

fn around(dims: &[usize], axis: usize) -> (usize, usize, usize) {
    (dims[..axis].iter().product(), dims[axis], dims[axis + 1..].iter().product())
}

/// Flat element positions in `x` that `index` (shaped like `x` but along `axis`) points at.
fn element_positions(x: &Tensor, axis: usize, index: &Tensor, what: &str) -> Vec<usize> {
    let (_, size, inner) = around(x.dims(), axis);
    let k = index.dims()[axis];
    indices(index, what)
        .iter()
        .enumerate()
        .map(|(p, &i)| {
            let (o, j) = (p / (k * inner), p % inner);
            (o * size + row(i, size, what)) * inner + j
        })
        .collect()
}

/// `out[.., j, ..] = x[.., index[.., j, ..], ..]` along `axis`: a gather of single elements.
pub(crate) fn gather(x: &Tensor, axis: usize, index: &Tensor, n: usize) -> Tensor {
    let what = "gather";
    f32_only(x, what);
    let flat = element_positions(x, axis, index, what);
    wrap_f32(n, take(&dense_f32(x, what), &flat, 1, n, what), index.shape().clone())
}

/// A copy of `x` with `src` added at `index` along `axis` (targets must be distinct on the GPU).
pub(crate) fn scatter_add(x: &Tensor, axis: usize, index: &Tensor, src: &Tensor, n: usize) -> Tensor {
    let what = "scatter_add";
    f32_only(x, what);
    let flat = element_positions(x, axis, index, what);
    let src = src.reshape([src.numel(), 1]);
    put(&x.reshape([x.numel(), 1]), &flat, &src, true, 1, n, what).reshape(x.shape().clone())
}
