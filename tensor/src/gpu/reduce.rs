//! Reductions on the GPU: the kept axes are permuted to the front and the reduced ones to the back,
//! the view is made contiguous (no copy when the reduced axes already are the trailing ones of a
//! contiguous tensor), and each row of the resulting `[kept, reduced]` matrix is folded by one warp;
//! a few long rows (a sum over a whole tensor) are folded in chunks first, so that more than a
//! handful of warps share the work.

use kernels::reduce_rows::{self, Fold};

use super::copy::{alloc_f32, dense_f32, f32_slice, wrap_f32};
use super::{check, runtime, GpuBuffer, GpuStorage};
use crate::{ReduceOp, Shape, Tensor};

/// The resolved axes (all when empty) and the result's shape.
fn plan(x: &Tensor, axes: &[isize], keepdim: bool) -> (Vec<usize>, Shape) {
    let rank = x.rank();
    let axes = if axes.is_empty() { (0..rank).collect() } else { x.shape().axes(axes) };
    let dims = (0..rank)
        .filter_map(|k| match (axes.contains(&k), keepdim) {
            (false, _) => Some(x.dims()[k]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect::<Vec<_>>();
    (axes, Shape::new(dims))
}

/// `op` over `axes` (all when empty).
pub(crate) fn reduce(x: &Tensor, op: ReduceOp, axes: &[isize], keepdim: bool) -> Tensor {
    let what = format!("{op:?}");
    let n = x.gpu_storage().unwrap().ordinal();
    let (axes, out_shape) = plan(x, axes, keepdim);
    let mut perm: Vec<usize> = (0..x.rank()).filter(|k| !axes.contains(k)).collect();
    perm.extend(&axes);
    let cols: usize = axes.iter().map(|&k| x.dims()[k]).product();
    let rows = out_shape.numel();
    let src = dense_f32(&x.permute(&perm), &what); // [kept..., reduced...]
    let fold = match op {
        ReduceOp::Sum => Fold::Sum,
        ReduceOp::Max => Fold::Max,
        ReduceOp::Min => Fold::Min,
        ReduceOp::SumSquares => Fold::SumSquares,
    };
    let out = alloc_f32(&what, n, rows);
    let gpu = runtime(n);
    match split(rows, cols) {
        // Few long rows: a warp per chunk of each row, then a warp per row over the chunks' results.
        Some(chunk) => {
            let parts = alloc_f32(&what, n, rows * (cols / chunk));
            let src = f32_slice(&src, &what);
            check(&what, n, reduce_rows::reduce_rows(&gpu, fold, &parts, &src, rows * (cols / chunk), chunk));
            let second = if fold == Fold::SumSquares { Fold::Sum } else { fold };
            check(&what, n, reduce_rows::reduce_rows(&gpu, second, &out, &parts, rows, cols / chunk));
        }
        None => check(&what, n, reduce_rows::reduce_rows(&gpu, fold, &out, &f32_slice(&src, &what), rows, cols)),
    }
    wrap_f32(n, out, out_shape)
}

/// Fewer rows than this leave most of a GPU's warps idle with one warp per row.
const FEW_ROWS: usize = 1024;
/// Rows at least this long are worth a second launch.
const LONG_ROW: usize = 8192;

/// For a few long rows, a chunk length dividing `cols` (so that the chunks of every row are rows of
/// the same contiguous buffer): the largest divisor in 256..=4096. `None` keeps one warp per row.
fn split(rows: usize, cols: usize) -> Option<usize> {
    if rows >= FEW_ROWS || cols < LONG_ROW {
        return None;
    }
    (256..=4096).rev().find(|d| cols.is_multiple_of(*d))
}

/// Index (i64) of the first largest (`largest`) or smallest element along `axis`, NaN counting as
/// the most extreme, as on the CPU.
pub(crate) fn arg_extreme(x: &Tensor, axis: isize, keepdim: bool, largest: bool) -> Tensor {
    let what = if largest { "argmax" } else { "argmin" };
    let n = x.gpu_storage().unwrap().ordinal();
    let (axes, out_shape) = plan(x, &[axis], keepdim);
    let mut perm: Vec<usize> = (0..x.rank()).filter(|k| !axes.contains(k)).collect();
    perm.extend(&axes);
    let (rows, cols) = (out_shape.numel(), x.dims()[axes[0]]);
    assert!(cols > 0 || rows == 0, "{what}: cannot reduce over an empty axis of {:?}", x.shape());
    let src = dense_f32(&x.permute(&perm), what);
    let out = check(what, n, runtime(n).alloc::<i64>(rows));
    check(what, n, reduce_rows::arg_rows(&runtime(n), largest, &out, &f32_slice(&src, what), rows, cols));
    Tensor::from_gpu_storage(GpuStorage::new(n, GpuBuffer::I64(out)), out_shape)
}

/// Variance with Bessel's `correction`, composed: sum((x - mean)^2) / (len - correction).
pub(crate) fn var(x: &Tensor, axes: &[isize], correction: usize, keepdim: bool) -> Tensor {
    let (resolved, _) = plan(x, axes, keepdim);
    let len: usize = resolved.iter().map(|&k| x.dims()[k]).product();
    assert!(len > correction, "var over {len} elements with correction {correction} is undefined");
    let centred = x.sub(&x.mean(axes, true));
    reduce(&centred, ReduceOp::SumSquares, axes, keepdim).div_scalar((len - correction) as f64)
}
