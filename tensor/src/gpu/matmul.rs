//! Matrix products on the GPU, batched with NumPy broadcasting of the batch dims, one launch each.
//!
//! - f32 x f32 -> f32: GEMM variant 3 (register-blocked), 64x64 tiles, or 128x128 when both sides of C
//!   reach 128.
//! - bf16 x bf16 -> **f32**: GEMM variant 4 (tensor cores, f32 accumulation): the mixed-precision
//!   product. It needs K, the leading dimensions and batch strides to be multiples of 8 and the views
//!   16-byte aligned; other bf16 products are widened to f32 first (the same exact products, summed in
//!   f32), so they give the same numbers more slowly.
//!
//! A transposed operand (`w.t()`) goes in as it is: the kernels take either storage order. An operand
//! is copied only when its matrix has no unit stride, or when its batch dims cannot be walked with one
//! stride (a broadcast over some but not all of them).

use kernels::gemm::{self, Variant, REGBLOCK_TILES};
use kernels::gemm_bf16::{self, Layout as MmaLayout};

use super::copy::{alloc_f32, wrap_f32};
use super::{check, runtime, GpuBuffer};
use crate::{DType, Shape, Tensor};

/// One operand as the kernels take it: a view whose batch is one stride and whose matrix is
/// row-major (`trans` false, rows `ld` apart) or column-major (`trans` true).
struct Operand {
    tensor: Tensor,
    trans: bool,
    ld: usize,
    batch_stride: usize,
}

/// `(trans, ld)` for a `rows x cols` matrix with strides (rs, cs), if one of them is a unit stride.
fn matrix_order(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<(bool, usize)> {
    if cs == 1 || cols == 1 {
        Some((false, if rows == 1 { cols } else { rs }))
    } else if rs == 1 || rows == 1 {
        Some((true, cs))
    } else {
        None
    }
}

/// `x` broadcast to `batch + [rows, cols]` as an [`Operand`], copied to contiguous when its layout
/// does not fit.
fn operand(x: &Tensor, batch: &Shape, rows: usize, cols: usize) -> Operand {
    let mut dims = batch.dims().to_vec();
    dims.extend([rows, cols]);
    let view = x.broadcast_to(dims.clone());
    let fit = |v: &Tensor| {
        let s = v.strides();
        let r = s.len() - 2;
        let (bd, bs) = kernels::strided::collapse(&v.dims()[..r], &[&s[..r]]);
        let batch_stride = match bd.len() {
            0 => Some(0),
            1 => Some(bs[0][0]),
            _ => None,
        }?;
        let (trans, ld) = matrix_order(rows, cols, s[r], s[r + 1])?;
        Some(Operand { tensor: v.clone(), trans, ld, batch_stride })
    };
    fit(&view).unwrap_or_else(|| fit(&view.contiguous()).expect("a contiguous operand always fits"))
}

/// `a · b` over the last two dims, batch dims broadcast; both on GPU `n`.
pub(crate) fn matmul(a: &Tensor, b: &Tensor, n: usize) -> Tensor {
    let (ra, rb) = (a.rank(), b.rank());
    let (m, k, nn) = (a.dims()[ra - 2], a.dims()[ra - 1], b.dims()[rb - 1]);
    let batch = Shape::new(&a.dims()[..ra - 2]).broadcast(&Shape::new(&b.dims()[..rb - 2]));
    let mut out_dims = batch.dims().to_vec();
    out_dims.extend([m, nn]);
    let count = batch.numel();
    match a.dtype() {
        DType::F32 => {}
        DType::BF16 => return matmul_bf16(a, b, n, &batch, out_dims),
        d => panic!("matmul on the GPU computes in f32, or bf16 with f32 results; the tensors hold {d} (cast first)"),
    }
    let (oa, ob) = (operand(a, &batch, m, k), operand(b, &batch, k, nn));
    let what = "matmul";
    let out = if k == 0 {
        check(what, n, runtime(n).zeros::<f32>(count * m * nn))
    } else {
        alloc_f32(what, n, count * m * nn)
    };
    if k > 0 && count * m * nn > 0 {
        let s = gemm::Shape {
            m,
            n: nn,
            k,
            trans_a: oa.trans,
            trans_b: ob.trans,
            lda: oa.ld,
            ldb: ob.ld,
            ldc: nn,
            batch: count,
            stride_a: oa.batch_stride,
            stride_b: ob.batch_stride,
            stride_c: m * nn,
            alpha: 1.0,
            beta: 0.0,
        };
        let tiles = if m >= 128 && nn >= 128 { REGBLOCK_TILES[1] } else { REGBLOCK_TILES[0] };
        let (va, vb) = (view(&oa.tensor), view(&ob.tensor));
        check(what, n, gemm::gemm(&runtime(n), Variant::RegBlocked(tiles), &s, &va, &vb, &out));
    }
    wrap_f32(n, out, out_dims)
}

/// The f32 buffer of a view from its element 0.
fn view(t: &Tensor) -> kernels::Slice<'_, f32> {
    let b = t.gpu_storage().unwrap().f32("matmul");
    b.slice(t.layout().offset(), b.len() - t.layout().offset())
}

/// bf16 operands on tensor cores when the layout allows, else widened to f32.
fn matmul_bf16(a: &Tensor, b: &Tensor, n: usize, batch: &Shape, out_dims: Vec<usize>) -> Tensor {
    let (m, k, nn) = (a.dim(-2), a.dim(-1), b.dim(-1));
    let (oa, ob) = (operand(a, batch, m, k), operand(b, batch, k, nn));
    // A [M, K] row-major is K-contiguous; B [K, N] column-major (stored [N, K]) is K-contiguous.
    let la = if oa.trans { MmaLayout::KMajor } else { MmaLayout::KContiguous };
    let lb = if ob.trans { MmaLayout::KContiguous } else { MmaLayout::KMajor };
    let aligned = |o: &Operand| [o.tensor.layout().offset(), o.ld, o.batch_stride].iter().all(|v| v.is_multiple_of(8));
    if !k.is_multiple_of(8) || !aligned(&oa) || !aligned(&ob) || m == 0 || nn == 0 {
        return a.to_dtype(DType::F32).matmul(&b.to_dtype(DType::F32));
    }
    let count = batch.numel();
    let what = "matmul (bf16)";
    let out = alloc_f32(what, n, count * m * nn);
    let s = gemm_bf16::Shape {
        m,
        n: nn,
        k,
        a: la,
        b: lb,
        lda: oa.ld,
        ldb: ob.ld,
        ldc: nn,
        batch: count,
        stride_a: oa.batch_stride,
        stride_b: ob.batch_stride,
        stride_c: m * nn,
        alpha: 1.0,
        beta: 0.0,
    };
    fn bits(t: &Tensor) -> &kernels::Buffer<u16> {
        match t.gpu_storage().unwrap().buffer() {
            GpuBuffer::BF16(buf) => buf,
            _ => unreachable!("both operands are bf16"),
        }
    }
    let (ba, bb) = (bits(&oa.tensor), bits(&ob.tensor));
    let (oa_off, ob_off) = (oa.tensor.layout().offset(), ob.tensor.layout().offset());
    let (va, vb) = (ba.slice(oa_off, ba.len() - oa_off), bb.slice(ob_off, bb.len() - ob_off));
    check(what, n, gemm_bf16::gemm_bf16(&runtime(n), &s, &va, &vb, &out));
    wrap_f32(n, out, out_dims)
}
