//! Dropout and drop path (per-sample stochastic depth), seeded so a run can be replayed exactly.
//! Both multiply by a constant mask, so their gradient is the same multiplication.

use tensor::{CmpOp, Tensor};

use crate::Var;

/// Zero each element with probability `p` and scale the rest by 1/(1 − p). Identity when `p` is 0.
pub fn dropout(x: &Var, p: f64, seed: u64) -> Var {
    assert!((0.0..1.0).contains(&p), "dropout probability must be in [0, 1), got {p}");
    if p == 0.0 {
        return x.clone();
    }
    // Drawn on the host (the counter-based generator), then moved to x's device: the same mask anywhere.
    let keep = Tensor::rand_uniform(x.shape().clone(), 0.0, 1.0, x.dtype(), seed).compare_scalar(CmpOp::Ge, p);
    let keep = keep.to_device(x.value().device());
    x.mul(&Var::constant(keep.to_dtype(x.dtype()).mul_scalar(1.0 / (1.0 - p))))
}

/// Drop the whole residual branch of each sample (dim 0) with probability `p`, scaling kept
/// samples by 1/(1 − p). Identity when `p` is 0.
pub fn drop_path(x: &Var, p: f64, seed: u64) -> Var {
    assert!((0.0..1.0).contains(&p), "drop path probability must be in [0, 1), got {p}");
    if p == 0.0 {
        return x.clone();
    }
    let mut shape = vec![1; x.rank()];
    shape[0] = x.dim(0);
    let keep = Tensor::rand_uniform(shape, 0.0, 1.0, x.dtype(), seed).compare_scalar(CmpOp::Ge, p);
    let keep = keep.to_device(x.value().device());
    x.mul(&Var::constant(keep.to_dtype(x.dtype()).mul_scalar(1.0 / (1.0 - p))))
}
