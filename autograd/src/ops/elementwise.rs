//! Elementwise ops: broadcasting arithmetic and the unary maps.

use tensor::{BinaryOp, CmpOp, DType, Tensor, UnaryOp};

use crate::tape::record;
use crate::Var;

/// `mask` (u8) as a tensor of `like`'s dtype: 1 where set, 0 elsewhere.
fn as_float(mask: Tensor, like: &Tensor) -> Tensor {
    mask.to_dtype(like.dtype())
}

/// Which value of an elementwise op its derivative is computed from.
#[derive(Clone, Copy)]
enum Keep {
    Input,
    Output,
}

impl Var {
    /// `self + other` with broadcasting; each gradient is `g` summed back to its operand's shape.
    pub fn add(&self, other: &Var) -> Var {
        let (sa, sb) = (self.shape().clone(), other.shape().clone());
        record(self.value().add(other.value()), &[self, other], move |g| vec![Some(g.sum_to(&sa)), Some(g.sum_to(&sb))])
    }

    /// `self - other` with broadcasting; `other` gets `-g`, summed back to its shape.
    pub fn sub(&self, other: &Var) -> Var {
        let (sa, sb) = (self.shape().clone(), other.shape().clone());
        record(self.value().sub(other.value()), &[self, other], move |g| {
            vec![Some(g.sum_to(&sa)), Some(g.neg().sum_to(&sb))]
        })
    }

    /// `self · other` elementwise, broadcasting; each operand's gradient is `g` times the other.
    pub fn mul(&self, other: &Var) -> Var {
        let (a, b) = (self.value(), other.value());
        let y = a.mul(b);
        // Keep only what a rule will read: d(a·b)/da needs b, d(a·b)/db needs a.
        let (sa, sb) = (a.shape().clone(), b.shape().clone());
        let (keep_b, keep_a) = (self.is_tracked().then(|| b.clone()), other.is_tracked().then(|| a.clone()));
        record(y, &[self, other], move |g| {
            vec![keep_b.map(|b| g.mul(&b).sum_to(&sa)), keep_a.map(|a| g.mul(&a).sum_to(&sb))]
        })
    }

    /// `self / other` elementwise, broadcasting: `g / b` for `a`, `-g·a / b²` for `b`.
    pub fn div(&self, other: &Var) -> Var {
        let (a, b) = (self.value(), other.value().clone());
        let y = a.div(&b);
        // b is needed either way; a only for b's gradient.
        let (sa, keep_a, tracked_a) = (a.shape().clone(), other.is_tracked().then(|| a.clone()), self.is_tracked());
        record(y, &[self, other], move |g| {
            let ga = tracked_a.then(|| g.div(&b).sum_to(&sa));
            let gb = keep_a.map(|a| g.mul(&a).div(&b.square()).neg().sum_to(b.shape()));
            vec![ga, gb]
        })
    }

    /// Elementwise maximum; where the two are equal the gradient goes to `self`.
    pub fn maximum(&self, other: &Var) -> Var {
        self.select_extreme(other, BinaryOp::Maximum, CmpOp::Ge)
    }

    /// Elementwise minimum; where the two are equal the gradient goes to `self`.
    pub fn minimum(&self, other: &Var) -> Var {
        self.select_extreme(other, BinaryOp::Minimum, CmpOp::Le)
    }

    fn select_extreme(&self, other: &Var, op: BinaryOp, wins: CmpOp) -> Var {
        let (a, b) = (self.value().clone(), other.value().clone());
        let take_a = as_float(a.compare(wins, &b), &a);
        record(a.binary(op, &b), &[self, other], move |g| {
            let ga = g.mul(&take_a);
            let gb = g.sub(&ga);
            vec![Some(ga.sum_to(a.shape())), Some(gb.sum_to(b.shape()))]
        })
    }

    /// `-self`.
    pub fn neg(&self) -> Var {
        record(self.value().neg(), &[self], |g| vec![Some(g.neg())])
    }

    /// `self + s`; the gradient passes through unchanged.
    pub fn add_scalar(&self, s: f64) -> Var {
        record(self.value().add_scalar(s), &[self], |g| vec![Some(g.clone())])
    }

    /// `self · s`; the gradient is `g · s`.
    pub fn mul_scalar(&self, s: f64) -> Var {
        record(self.value().mul_scalar(s), &[self], move |g| vec![Some(g.mul_scalar(s))])
    }

    /// Apply an elementwise function whose derivative `grad(g, saved)` needs only its input
    /// (`Keep::Input`) or only its output (`Keep::Output`): the tape holds that one until backward.
    fn map(&self, op: UnaryOp, keep: Keep, grad: fn(&Tensor, &Tensor) -> Tensor) -> Var {
        let y = self.value().unary(op);
        let saved = match keep {
            Keep::Input => self.value().clone(),
            Keep::Output => y.clone(),
        };
        record(y, &[self], move |g| vec![Some(grad(g, &saved))])
    }

    /// e^x; the derivative reuses the output (`g · y`).
    pub fn exp(&self) -> Var {
        self.map(UnaryOp::Exp, Keep::Output, |g, y| g.mul(y))
    }
    /// Natural log; the derivative is `g / x`.
    pub fn log(&self) -> Var {
        self.map(UnaryOp::Log, Keep::Input, |g, x| g.div(x))
    }
    /// √x; the derivative is `g / (2y)`, from the output.
    pub fn sqrt(&self) -> Var {
        self.map(UnaryOp::Sqrt, Keep::Output, |g, y| g.div(y).mul_scalar(0.5))
    }
    /// 1/√x; the derivative is `-g·y³/2`, from the output.
    pub fn rsqrt(&self) -> Var {
        self.map(UnaryOp::Rsqrt, Keep::Output, |g, y| g.mul(&y.powf(3.0)).mul_scalar(-0.5))
    }
    /// tanh x; the derivative is `g·(1 − y²)`, from the output.
    pub fn tanh(&self) -> Var {
        self.map(UnaryOp::Tanh, Keep::Output, |g, y| g.mul(&y.square().neg().add_scalar(1.0)))
    }
    /// Exact (erf) GELU.
    pub fn gelu(&self) -> Var {
        self.map(UnaryOp::Gelu, Keep::Input, |g, x| x.gelu_backward(g))
    }
    /// max(x, 0); the gradient flows where x > 0 (none at 0).
    pub fn relu(&self) -> Var {
        self.map(UnaryOp::Relu, Keep::Input, |g, x| g.mul(&as_float(x.compare_scalar(CmpOp::Gt, 0.0), x)))
    }
    /// 1 / (1 + e^−x); the derivative is `g·y·(1 − y)`, from the output.
    pub fn sigmoid(&self) -> Var {
        self.map(UnaryOp::Sigmoid, Keep::Output, |g, y| g.mul(&y.mul(&y.neg().add_scalar(1.0))))
    }
    /// |x|; the derivative is the sign of x (0 at 0).
    pub fn abs(&self) -> Var {
        self.map(UnaryOp::Abs, Keep::Input, |g, x| {
            let pos = as_float(x.compare_scalar(CmpOp::Gt, 0.0), x);
            let neg = as_float(x.compare_scalar(CmpOp::Lt, 0.0), x);
            g.mul(&pos.sub(&neg))
        })
    }
    /// x²; the derivative is `2x·g`.
    pub fn square(&self) -> Var {
        self.map(UnaryOp::Square, Keep::Input, |g, x| g.mul(x).mul_scalar(2.0))
    }
    /// 1/x; the derivative is `-g·y²`, from the output.
    pub fn recip(&self) -> Var {
        self.map(UnaryOp::Recip, Keep::Output, |g, y| g.mul(&y.square()).neg())
    }
    /// x^p for a constant p; the derivative is `p·x^(p−1)·g`.
    pub fn powf(&self, p: f64) -> Var {
        let x = self.value().clone();
        record(x.powf(p), &[self], move |g| vec![Some(g.mul(&x.powf(p - 1.0)).mul_scalar(p))])
    }

    /// The same values in another float dtype; the gradient is cast back.
    pub fn to_dtype(&self, dtype: DType) -> Var {
        let from = self.dtype();
        record(self.value().to_dtype(dtype), &[self], move |g| vec![Some(g.to_dtype(from))])
    }
}
