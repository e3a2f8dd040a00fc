//! Elementwise ops on the GPU: unary maps, broadcasting binary ops, comparisons and their scalar
//! forms, each one launch of a `kernels::map` kernel reading the operands' views in place (strided,
//! broadcast by stride 0): no operand is copied first.

use kernels::map::{self, Binary, Compare, Unary, View};

use super::copy::{alloc_f32, dense_f32, f32_slice, f32_view, wrap_f32};
use super::{check, runtime, GpuBuffer, GpuStorage};
use crate::{BinaryOp, CmpOp, Tensor, UnaryOp};

fn unary_kernel(op: UnaryOp) -> Unary {
    match op {
        UnaryOp::Neg => Unary::Neg,
        UnaryOp::Exp => Unary::Exp,
        UnaryOp::Log => Unary::Log,
        UnaryOp::Sqrt | UnaryOp::Powf(0.5) => Unary::Sqrt,
        UnaryOp::Rsqrt | UnaryOp::Powf(-0.5) => Unary::Rsqrt,
        UnaryOp::Tanh => Unary::Tanh,
        UnaryOp::Gelu => Unary::Gelu,
        UnaryOp::GeluGrad => Unary::GeluGrad,
        UnaryOp::Relu => Unary::Relu,
        UnaryOp::Sigmoid => Unary::Sigmoid,
        UnaryOp::Abs => Unary::Abs,
        UnaryOp::Square | UnaryOp::Powf(2.0) => Unary::Square,
        UnaryOp::Recip | UnaryOp::Powf(-1.0) => Unary::Recip,
        UnaryOp::Powf(p) => Unary::Powf(p as f32),
    }
}

fn binary_kernel(op: BinaryOp) -> Binary {
    match op {
        BinaryOp::Add => Binary::Add,
        BinaryOp::Sub => Binary::Sub,
        BinaryOp::Mul => Binary::Mul,
        BinaryOp::Div => Binary::Div,
        BinaryOp::Maximum => Binary::Maximum,
        BinaryOp::Minimum => Binary::Minimum,
    }
}

fn compare_kernel(op: CmpOp) -> Compare {
    match op {
        CmpOp::Eq => Compare::Eq,
        CmpOp::Ne => Compare::Ne,
        CmpOp::Lt => Compare::Lt,
        CmpOp::Le => Compare::Le,
        CmpOp::Gt => Compare::Gt,
        CmpOp::Ge => Compare::Ge,
    }
}

/// `op(x)`, a new contiguous tensor on `x`'s GPU.
pub(crate) fn unary(x: &Tensor, op: UnaryOp) -> Tensor {
    let what = format!("{op:?}");
    let n = x.gpu_storage().unwrap().ordinal();
    if op == UnaryOp::Powf(1.0) {
        // x^1 is x, exactly, as on the CPU.
        return binary_scalar(x, BinaryOp::Mul, 1.0, false);
    }
    let src = f32_view(x, &what);
    let out = alloc_f32(&what, n, x.numel());
    let view = View { buf: &src, strides: x.strides() };
    check(&what, n, map::unary(&runtime(n), unary_kernel(op), &out, view, x.dims()));
    wrap_f32(n, out, x.shape().clone())
}

/// `a op b` with NumPy broadcasting.
pub(crate) fn binary(a: &Tensor, b: &Tensor, op: BinaryOp, n: usize) -> Tensor {
    let what = format!("{op:?}");
    let shape = a.shape().broadcast(b.shape());
    let (la, lb) = (a.layout().broadcast_to(&shape), b.layout().broadcast_to(&shape));
    let (sa, sb) = (f32_view(a, &what), f32_view(b, &what));
    let out = alloc_f32(&what, n, shape.numel());
    let (va, vb) = (View { buf: &sa, strides: la.strides() }, View { buf: &sb, strides: lb.strides() });
    check(&what, n, map::binary(&runtime(n), binary_kernel(op), &out, va, vb, shape.dims()));
    wrap_f32(n, out, shape)
}

/// `x op s`, or `s op x` when `scalar_first`.
pub(crate) fn binary_scalar(x: &Tensor, op: BinaryOp, s: f64, scalar_first: bool) -> Tensor {
    let what = format!("{op:?} with a scalar");
    let n = x.gpu_storage().unwrap().ordinal();
    let src = f32_view(x, &what);
    let out = alloc_f32(&what, n, x.numel());
    let view = View { buf: &src, strides: x.strides() };
    let k = binary_kernel(op);
    check(&what, n, map::binary_scalar(&runtime(n), k, &out, view, s as f32, scalar_first, x.dims()));
    wrap_f32(n, out, x.shape().clone())
}

fn wrap_u8(n: usize, buf: kernels::Buffer<u8>, shape: crate::Shape) -> Tensor {
    Tensor::from_gpu_storage(GpuStorage::new(n, GpuBuffer::U8(buf)), shape)
}

/// `a op b` as a u8 mask, with broadcasting.
pub(crate) fn compare(a: &Tensor, b: &Tensor, op: CmpOp, n: usize) -> Tensor {
    let what = format!("{op:?}");
    let shape = a.shape().broadcast(b.shape());
    let (la, lb) = (a.layout().broadcast_to(&shape), b.layout().broadcast_to(&shape));
    let (sa, sb) = (f32_view(a, &what), f32_view(b, &what));
    let out = check(&what, n, runtime(n).alloc::<u8>(shape.numel()));
    let (va, vb) = (View { buf: &sa, strides: la.strides() }, View { buf: &sb, strides: lb.strides() });
    check(&what, n, map::compare(&runtime(n), compare_kernel(op), &out, va, vb, shape.dims()));
    wrap_u8(n, out, shape)
}

/// `x op s` as a u8 mask.
pub(crate) fn compare_scalar(x: &Tensor, op: CmpOp, s: f64) -> Tensor {
    let what = format!("{op:?} with a scalar");
    let n = x.gpu_storage().unwrap().ordinal();
    let src = f32_view(x, &what);
    let out = check(&what, n, runtime(n).alloc::<u8>(x.numel()));
    let view = View { buf: &src, strides: x.strides() };
    check(&what, n, map::compare_scalar(&runtime(n), compare_kernel(op), &out, view, s as f32, x.dims()));
    wrap_u8(n, out, x.shape().clone())
}

/// GELU's backward `dy * gelu'(x)`, one launch of the fused kernel of `kernels::elementwise`.
pub(crate) fn gelu_backward(x: &Tensor, dy: &Tensor, n: usize) -> Tensor {
    let what = "gelu_backward";
    let (x, dy) = (dense_f32(x, what), dense_f32(dy, what));
    let out = alloc_f32(what, n, x.numel());
    if x.numel() > 0 {
        let (xs, dys) = (f32_slice(&x, what), f32_slice(&dy, what));
        check(what, n, kernels::elementwise::gelu_backward(&runtime(n), &out, &xs, &dys));
    }
    wrap_f32(n, out, x.shape().clone())
}
