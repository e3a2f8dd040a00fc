//! Elementwise ops: unary maps, binary ops with NumPy broadcasting, scalar forms, comparisons.
//!
//! Broadcasting never materialises the expanded operands. Both operands are viewed with the output
//! shape (stride 0 on repeated dims); the longest run of innermost dims over which each operand is
//! either contiguous or constant becomes the kernel's row, handed over as a slice or a scalar.
//! [B, N, D] + [D] thus runs B·N kernel calls on rows of D, and [B, N, D] · [B, N, 1] likewise with
//! the second operand as a per-row scalar.

use std::ops;

use rayon::prelude::*;

use super::float_dispatch;
use crate::cpu::binary::{self, BinaryOp, CmpOp, Operand};
use crate::cpu::mathfn::FloatMath;
use crate::cpu::unary::{self, UnaryOp};
use crate::cpu::Float;
use crate::dtype::Element;
use crate::gpu;
use crate::strided::Walk;
use crate::{Layout, Shape, Tensor};

/// Output elements per parallel task in broadcast loops: large enough to amortise scheduling.
const ELEMS_PER_TASK: usize = 1 << 15;

/// How one operand is read along the inner run of dims.
#[derive(Clone, Copy, PartialEq)]
enum Run {
    Dense,
    Constant,
}

/// Classify the dims `k..` of a view: dense (row-major, no gaps), constant (all stride 0), or neither.
fn run_kind(layout: &Layout, k: usize) -> Option<Run> {
    let (dims, strides) = (&layout.dims()[k..], &layout.strides()[k..]);
    if dims.iter().zip(strides).all(|(&d, &s)| d == 1 || s == 0) {
        return Some(Run::Constant);
    }
    let mut expected = 1;
    for (&d, &s) in dims.iter().zip(strides).rev() {
        if d != 1 && s != expected {
            return None;
        }
        expected *= d;
    }
    Some(Run::Dense)
}

/// A run of `inner` elements of an operand, as the kernel takes it.
fn operand<T: Copy>(buf: &[T], kind: Run, start: usize, inner: usize) -> Operand<'_, T> {
    match kind {
        Run::Dense => Operand::Slice(&buf[start..start + inner]),
        Run::Constant => Operand::Scalar(buf[start]),
    }
}

/// Apply a row kernel over the broadcast of `a` and `b`, writing a new contiguous output.
fn broadcast_rows<T: Element, O: Element>(
    a: &Tensor,
    b: &Tensor,
    kernel: impl Fn(Operand<T>, Operand<T>, &mut [O]) + Sync,
) -> Tensor {
    let shape = a.shape().broadcast(b.shape());
    // An operand whose innermost dim is strided (e.g. a transposed view) is copied once, so every
    // kernel call still gets a run of useful length.
    let fix = |t: &Tensor| match run_kind(t.layout(), t.rank().saturating_sub(1)) {
        Some(_) => t.clone(),
        None => t.contiguous(),
    };
    let (a, b) = (fix(a), fix(b));
    let (la, lb) = (a.layout().broadcast_to(&shape), b.layout().broadcast_to(&shape));
    let rank = shape.rank();
    let mut k = rank;
    while k > 0 && run_kind(&la, k - 1).is_some() && run_kind(&lb, k - 1).is_some() {
        k -= 1;
    }
    let (ka, kb) = (run_kind(&la, k).unwrap(), run_kind(&lb, k).unwrap());
    let inner: usize = shape.dims()[k..].iter().product();
    let outer_layout = |l: &Layout| Layout::new(Shape::new(&l.dims()[..k]), l.strides()[..k].to_vec(), l.offset());
    let (wa, wb) = (Walk::new(&outer_layout(&la)), Walk::new(&outer_layout(&lb)));
    let (abuf, bbuf) = (a.buffer::<T>(), b.buffer::<T>());
    let row = |r: usize, out: &mut [O]| {
        let (sa, sb) = (wa.element_start(r), wb.element_start(r));
        kernel(operand(abuf, ka, sa, inner), operand(bbuf, kb, sb, inner), out);
    };
    let n = shape.numel();
    let mut out = crate::pool::for_overwrite(n);
    if n > 0 {
        let rows_per_task = (ELEMS_PER_TASK / inner).max(1);
        out.par_chunks_mut(rows_per_task * inner).enumerate().for_each(|(t, block)| {
            for (i, dst) in block.chunks_mut(inner).enumerate() {
                row(t * rows_per_task + i, dst);
            }
        });
    }
    Tensor::from_values(out, shape)
}

fn map_unary<T: FloatMath + Element>(x: &Tensor, op: UnaryOp) -> Tensor {
    let src = x.values::<T>();
    let mut out = crate::pool::for_overwrite(src.len());
    unary::unary(op, &src, &mut out);
    Tensor::from_values(out, x.shape().clone())
}

fn with_scalar<T: FloatMath + Element>(x: &Tensor, op: BinaryOp, s: f64, scalar_first: bool) -> Tensor {
    let src = x.values::<T>();
    let mut out = crate::pool::for_overwrite(src.len());
    let (v, s) = (Operand::Slice(&src), Operand::Scalar(<T as Float>::from_f64(s)));
    let (a, b) = if scalar_first { (s, v) } else { (v, s) };
    binary::binary(op, a, b, &mut out);
    Tensor::from_values(out, x.shape().clone())
}

impl Tensor {
    /// Apply an elementwise function (f32 and f64 tensors).
    pub fn unary(&self, op: UnaryOp) -> Tensor {
        if gpu::on_gpu(self) {
            return gpu::elementwise::unary(self, op);
        }
        float_dispatch!(self.dtype(), format!("{op:?}"), T => map_unary::<T>(self, op))
    }

    /// −x elementwise. Like every unary op here: f32 or f64 (f32 only on the GPU), and the result
    /// is a new contiguous tensor, never a view.
    pub fn neg(&self) -> Tensor {
        self.unary(UnaryOp::Neg)
    }
    /// e^x elementwise; +inf on overflow, 0 on underflow.
    pub fn exp(&self) -> Tensor {
        self.unary(UnaryOp::Exp)
    }
    /// Natural log elementwise: ln 0 = −inf, negative inputs give NaN.
    pub fn log(&self) -> Tensor {
        self.unary(UnaryOp::Log)
    }
    /// √x elementwise; NaN for x < 0.
    pub fn sqrt(&self) -> Tensor {
        self.unary(UnaryOp::Sqrt)
    }
    /// 1/√x elementwise (+inf at 0), as layer norm uses on the variance.
    pub fn rsqrt(&self) -> Tensor {
        self.unary(UnaryOp::Rsqrt)
    }
    /// Hyperbolic tangent elementwise, saturating to ±1.
    pub fn tanh(&self) -> Tensor {
        self.unary(UnaryOp::Tanh)
    }
    /// GELU in its exact form x·Φ(x) (erf), as the ViT MLP uses.
    pub fn gelu(&self) -> Tensor {
        self.unary(UnaryOp::Gelu)
    }
    /// GELU's backward: `dy · gelu'(self)` in one pass (the same values as
    /// `dy.mul(&self.unary(UnaryOp::GeluGrad))`).
    pub fn gelu_backward(&self, dy: &Tensor) -> Tensor {
        assert!(
            self.shape() == dy.shape() && self.dtype() == dy.dtype(),
            "gelu_backward: x is {} {:?} but dy is {} {:?}",
            self.dtype(),
            self.shape(),
            dy.dtype(),
            dy.shape()
        );
        if let Some(n) = gpu::placement(&"gelu_backward", &[self, dy]) {
            return gpu::elementwise::gelu_backward(self, dy, n);
        }
        float_dispatch!(self.dtype(), "gelu_backward", T => {
            let (x, d) = (self.values::<T>(), dy.values::<T>());
            let mut out = crate::pool::for_overwrite(x.len());
            unary::gelu_backward(&x, &d, &mut out);
            Tensor::from_values(out, self.shape().clone())
        })
    }
    /// max(x, 0) elementwise; NaN passes through (as in PyTorch).
    pub fn relu(&self) -> Tensor {
        self.unary(UnaryOp::Relu)
    }
    /// 1 / (1 + e^−x) elementwise.
    pub fn sigmoid(&self) -> Tensor {
        self.unary(UnaryOp::Sigmoid)
    }
    /// |x| elementwise.
    pub fn abs(&self) -> Tensor {
        self.unary(UnaryOp::Abs)
    }
    /// x² elementwise, as one multiply (`powf(2.0)` is mapped to this too).
    pub fn square(&self) -> Tensor {
        self.unary(UnaryOp::Square)
    }
    /// 1/x elementwise; ±inf at ±0.
    pub fn recip(&self) -> Tensor {
        self.unary(UnaryOp::Recip)
    }
    /// x^p elementwise; p ∈ {0, 0.5, 1, 2, −0.5, −1} take the exact dedicated ops, and a negative x
    /// with a non-integer p gives NaN.
    pub fn powf(&self, p: f64) -> Tensor {
        self.unary(UnaryOp::Powf(p))
    }

    /// A broadcasting binary op (`self` op `other`); both tensors must share a float dtype.
    pub fn binary(&self, op: BinaryOp, other: &Tensor) -> Tensor {
        assert_eq!(
            self.dtype(),
            other.dtype(),
            "{op:?} of {} and {} tensors: cast one first",
            self.dtype(),
            other.dtype()
        );
        if let Some(n) = gpu::placement(&op, &[self, other]) {
            return gpu::elementwise::binary(self, other, op, n);
        }
        float_dispatch!(self.dtype(), format!("{op:?}"), T =>
            broadcast_rows::<T, T>(self, other, |a, b, out| binary::binary(op, a, b, out)))
    }

    /// `self` op `s` elementwise, or `s` op `self` when `scalar_first`.
    pub fn binary_scalar(&self, op: BinaryOp, s: f64, scalar_first: bool) -> Tensor {
        if gpu::on_gpu(self) {
            return gpu::elementwise::binary_scalar(self, op, s, scalar_first);
        }
        float_dispatch!(self.dtype(), format!("{op:?}"), T => with_scalar::<T>(self, op, s, scalar_first))
    }

    /// `self + other` elementwise with NumPy broadcasting; panics unless both have the same float
    /// dtype and broadcastable shapes.
    pub fn add(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Add, other)
    }
    /// `self - other`, broadcasting as [`Tensor::add`].
    pub fn sub(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Sub, other)
    }
    /// `self * other` (Hadamard product), broadcasting as [`Tensor::add`].
    pub fn mul(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Mul, other)
    }
    /// `self / other`, broadcasting as [`Tensor::add`]; x/0 is ±inf, 0/0 NaN.
    pub fn div(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Div, other)
    }
    /// Elementwise larger of the two, broadcasting; NaN if either is NaN (as PyTorch).
    pub fn maximum(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Maximum, other)
    }
    /// Elementwise smaller of the two, broadcasting; NaN if either is NaN.
    pub fn minimum(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Minimum, other)
    }
    /// `self + s`, with `s` rounded to the tensor's dtype first (f32 on the GPU).
    pub fn add_scalar(&self, s: f64) -> Tensor {
        self.binary_scalar(BinaryOp::Add, s, false)
    }
    /// `self - s`; for `s - self` use `binary_scalar(BinaryOp::Sub, s, true)`.
    pub fn sub_scalar(&self, s: f64) -> Tensor {
        self.binary_scalar(BinaryOp::Sub, s, false)
    }
    /// `self · s`, with `s` rounded to the tensor's dtype first.
    pub fn mul_scalar(&self, s: f64) -> Tensor {
        self.binary_scalar(BinaryOp::Mul, s, false)
    }
    /// `self / s` (a true division, not a multiply by 1/s, so the bits match `div`).
    pub fn div_scalar(&self, s: f64) -> Tensor {
        self.binary_scalar(BinaryOp::Div, s, false)
    }
    /// Every element limited to [low, high].
    pub fn clamp(&self, low: f64, high: f64) -> Tensor {
        self.binary_scalar(BinaryOp::Maximum, low, false).binary_scalar(BinaryOp::Minimum, high, false)
    }

    /// Elementwise comparison with broadcasting, as a u8 mask (1 where true).
    pub fn compare(&self, op: CmpOp, other: &Tensor) -> Tensor {
        assert_eq!(
            self.dtype(),
            other.dtype(),
            "{op:?} of {} and {} tensors: cast one first",
            self.dtype(),
            other.dtype()
        );
        if let Some(n) = gpu::placement(&op, &[self, other]) {
            return gpu::elementwise::compare(self, other, op, n);
        }
        float_dispatch!(self.dtype(), format!("{op:?}"), T =>
            broadcast_rows::<T, u8>(self, other, |a, b, out| binary::compare(op, a, b, out)))
    }

    /// Elementwise comparison with a scalar (`self` op `s`), as a u8 mask.
    pub fn compare_scalar(&self, op: CmpOp, s: f64) -> Tensor {
        if gpu::on_gpu(self) {
            return gpu::elementwise::compare_scalar(self, op, s);
        }
        float_dispatch!(self.dtype(), format!("{op:?}"), T => {
            let src = self.values::<T>();
            let mut out = vec![0u8; src.len()];
            binary::compare(op, Operand::Slice(&src), Operand::Scalar(<T as Float>::from_f64(s)), &mut out);
            Tensor::from_values(out, self.shape().clone())
        })
    }
}

macro_rules! impl_operator {
    ($trait:ident, $method:ident, $op:ident) => {
        impl ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                self.binary(BinaryOp::$op, rhs)
            }
        }
        impl ops::$trait<f64> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f64) -> Tensor {
                self.binary_scalar(BinaryOp::$op, rhs, false)
            }
        }
    };
}
impl_operator!(Add, add, Add);
impl_operator!(Sub, sub, Sub);
impl_operator!(Mul, mul, Mul);
impl_operator!(Div, div, Div);

impl ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.unary(UnaryOp::Neg)
    }
}
