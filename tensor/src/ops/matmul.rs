//! Matrix products: 2-D, and batched over any leading dims with NumPy broadcasting of the batch.
//!
//! The GEMM takes each operand as (pointer, row stride, column stride), so a transposed or
//! otherwise strided view goes in as it is — `x.matmul(&w.t())` never copies `w`.

use rayon::prelude::*;

use crate::cpu::gemm::{dgemm, sgemm, sgemm_bias, MatMut, MatRef, Parallelism};
use crate::dtype::Element;
use crate::gpu;
use crate::strided::Walk;
use crate::{DType, Device, Layout, Shape, Tensor};

/// Below this many flops per matrix, a batch runs one matrix per thread instead of splitting each.
const PER_MATRIX_PARALLEL_FLOPS: usize = 1 << 22;

type Gemm<T> = fn(MatRef<T>, MatRef<T>, MatMut<T>, Parallelism);

fn batched<T: Element>(a: &Tensor, b: &Tensor, gemm: Gemm<T>) -> Tensor {
    let (ra, rb) = (a.rank(), b.rank());
    let (m, k, n) = (a.dims()[ra - 2], a.dims()[ra - 1], b.dims()[rb - 1]);
    let batch = Shape::new(&a.dims()[..ra - 2]).broadcast(&Shape::new(&b.dims()[..rb - 2]));
    let full = |rows, cols| {
        let mut d = batch.dims().to_vec();
        d.extend([rows, cols]);
        Shape::new(d)
    };
    let (la, lb) = (a.layout().broadcast_to(&full(m, k)), b.layout().broadcast_to(&full(k, n)));
    let batch_walk = |l: &Layout| {
        let r = l.dims().len() - 2;
        Walk::new(&Layout::new(batch.clone(), l.strides()[..r].to_vec(), l.offset()))
    };
    let (wa, wb) = (batch_walk(&la), batch_walk(&lb));
    let (abuf, bbuf) = (a.buffer::<T>(), b.buffer::<T>());
    let last2 = |l: &Layout| {
        let s = l.strides();
        (s[s.len() - 2], s[s.len() - 1])
    };
    let ((ars, acs), (brs, bcs)) = (last2(&la), last2(&lb));
    let count = batch.numel();
    let one = |i: usize, c: &mut [T], par: Parallelism| {
        let a = MatRef { data: abuf, offset: wa.element_start(i), rows: m, cols: k, rs: ars, cs: acs };
        let b = MatRef { data: bbuf, offset: wb.element_start(i), rows: k, cols: n, rs: brs, cs: bcs };
        gemm(a, b, MatMut { data: c, offset: 0, rows: m, cols: n, rs: n, cs: 1 }, par);
    };
    // Every element is written by the GEMM (beta = 0 never reads C), except when k = 0.
    let mut out = if k > 0 { crate::pool::for_overwrite(count * m * n) } else { crate::pool::zeroed(count * m * n) };
    // A batch against one shared right operand (a linear layer's `x · Wᵀ` on [B, T, C]) is one tall
    // GEMM when the left operand's batch and row dims merge: one product of B·T rows instead of B
    // products of T rows, each with its own packing of B and a ragged last row block.
    let shared_b = count > 1 && lb.strides()[..lb.dims().len() - 2].iter().all(|&s| s == 0);
    if let Some(tall) = shared_b.then(|| la.reshape(&Shape::new([count * m, k]))).flatten() {
        let (rs, cs) = (tall.strides()[0], tall.strides()[1]);
        let a = MatRef { data: abuf, offset: tall.offset(), rows: count * m, cols: k, rs, cs };
        let b = MatRef { data: bbuf, offset: lb.offset(), rows: k, cols: n, rs: brs, cs: bcs };
        gemm(a, b, MatMut::row_major(&mut out, count * m, n), Parallelism::Rayon);
        return Tensor::from_values(out, full(m, n));
    }
    if m * n > 0 {
        if count > 1 && 2 * m * n * k < PER_MATRIX_PARALLEL_FLOPS {
            out.par_chunks_mut(m * n).enumerate().for_each(|(i, c)| one(i, c, Parallelism::None));
        } else {
            out.chunks_mut(m * n).enumerate().for_each(|(i, c)| one(i, c, Parallelism::Rayon));
        }
    }
    Tensor::from_values(out, full(m, n))
}

impl Tensor {
    /// Matrix product over the last two dims: [..., m, k] · [..., k, n] → [..., m, n], batch dims broadcast.
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        assert!(
            self.rank() >= 2 && other.rank() >= 2,
            "matmul needs operands of rank ≥ 2, got {:?} and {:?}",
            self.shape(),
            other.shape()
        );
        assert_eq!(
            self.dim(-1),
            other.dim(-2),
            "matmul: inner dimensions differ in {:?} · {:?}",
            self.shape(),
            other.shape()
        );
        let batch = |t: &Tensor| Shape::new(&t.dims()[..t.rank() - 2]);
        assert!(
            batch(self).try_broadcast(&batch(other)).is_some(),
            "matmul: batch dimensions do not broadcast in {:?} · {:?}",
            self.shape(),
            other.shape()
        );
        assert_eq!(
            self.dtype(),
            other.dtype(),
            "matmul of {} and {} tensors: cast one first",
            self.dtype(),
            other.dtype()
        );
        if let Some(n) = gpu::placement(&"matmul", &[self, other]) {
            return gpu::matmul::matmul(self, other, n);
        }
        match self.dtype() {
            DType::F32 => batched::<f32>(self, other, |a, b, c, p| sgemm(1.0, a, b, 0.0, c, p)),
            DType::F64 => batched::<f64>(self, other, |a, b, c, p| dgemm(1.0, a, b, 0.0, c, p)),
            d => panic!("matmul computes in f32 or f64, but the tensors hold {d} (cast with to_dtype first)"),
        }
    }
}

impl Tensor {
    /// A linear layer's `x · wᵀ + b`: `self` `[..., in]`, `weight` `[out, in]` (PyTorch's layout),
    /// `bias` `[out]`.
    ///
    /// For f32 on the CPU the bias goes into the GEMM: the output starts as the bias repeated on every
    /// row and the product is accumulated onto it (beta = 1), as BLAS-backed frameworks do, instead of
    /// a second pass that reads the product back and writes a new tensor. Elsewhere it is
    /// `matmul` then `add`.
    pub fn linear(&self, weight: &Tensor, bias: &Tensor) -> Tensor {
        let fits = self.rank() >= 2 && weight.rank() == 2 && bias.rank() == 1;
        assert!(
            fits && weight.dim(1) == self.dim(-1) && bias.dim(0) == weight.dim(0),
            "linear: x {:?}, weight {:?}, bias {:?} are not [..., in], [out, in], [out]",
            self.shape(),
            weight.shape(),
            bias.shape()
        );
        let on_cpu_f32 = [self, weight, bias].iter().all(|t| t.device() == Device::Cpu && t.dtype() == DType::F32);
        if !on_cpu_f32 {
            return self.matmul(&weight.t()).add(bias);
        }
        let (k, n) = (weight.dim(1), weight.dim(0));
        let rows: usize = self.dims()[..self.rank() - 1].iter().product();
        let x = self.reshape([rows, k]);
        let bias = bias.contiguous();
        let b = bias.as_slice::<f32>().expect("a contiguous bias");
        let mut out = crate::pool::for_overwrite(rows * n);
        let (xs, ws) = (x.strides(), weight.strides());
        let a = MatRef { data: x.buffer::<f32>(), offset: x.layout().offset(), rows, cols: k, rs: xs[0], cs: xs[1] };
        // B = wᵀ, read through w's strides.
        let w = MatRef {
            data: weight.buffer::<f32>(),
            offset: weight.layout().offset(),
            rows: k,
            cols: n,
            rs: ws[1],
            cs: ws[0],
        };
        if rows * n > 0 {
            sgemm_bias(1.0, a, w, b, MatMut::row_major(&mut out, rows, n), Parallelism::Rayon);
        }
        let mut dims = self.dims().to_vec();
        *dims.last_mut().unwrap() = n;
        Tensor::from_values(out, Shape::new(dims))
    }
}
