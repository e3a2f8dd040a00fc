//! Scaled dot-product attention as one op with its backward, saving each query row's logsumexp
//! (from which the backward recomputes the probabilities) instead of the score matrix.
//!
//! On a GPU, f32 operands of one shape `[..., N, d]` with `d` in `kernels::attention::HEAD_DIMS` run
//! the flash-style kernels (`gpu/attention.rs`); everything else, and the CPU, runs the composite
//! below (matmul, softmax statistics, matmul), which writes the same formulas out.

use crate::{gpu, DType, Device, Tensor};

/// Panics unless q, k, v are `[..., Nq, d]`, `[..., Nk, d]`, `[..., Nk, d]` with the same batch dims.
fn check_shapes(q: &Tensor, k: &Tensor, v: &Tensor) {
    let ok = q.rank() >= 2
        && k.dims() == v.dims()
        && q.rank() == k.rank()
        && q.dims()[..q.rank() - 2] == k.dims()[..k.rank() - 2]
        && q.dim(-1) == k.dim(-1);
    assert!(
        ok,
        "attention: q {:?}, k {:?}, v {:?} are not [..., Nq, d], [..., Nk, d], [..., Nk, d]",
        q.shape(),
        k.shape(),
        v.shape()
    );
}

/// The softmax statistics and probabilities of `softmax(scale q kᵀ)`: (lse `[..., Nq, 1]`, p).
fn probabilities(q: &Tensor, k: &Tensor, scale: f64, lse: Option<&Tensor>) -> (Tensor, Tensor) {
    let s = q.mul_scalar(scale).matmul(&k.transpose(-2, -1)); // [..., Nq, Nk]
    let lse = match lse {
        Some(lse) => lse.unsqueeze(-1),
        None => {
            let m = s.max(&[-1], true);
            s.sub(&m).exp().sum(&[-1], true).log().add(&m)
        }
    };
    let p = s.sub(&lse).exp();
    (lse, p)
}

impl Tensor {
    /// Whether [`Tensor::attention_forward`] and [`Tensor::attention_backward`] run the fused GPU
    /// kernels for these operands: f32, on one GPU, all of one shape `[..., N, d]` (as many keys as
    /// queries), with a head dimension the kernels are generated for.
    pub fn attention_is_fused(q: &Tensor, k: &Tensor, v: &Tensor) -> bool {
        let Device::Gpu(_) = q.device() else { return false };
        let d = q.dims().last().copied().unwrap_or(0);
        q.rank() >= 2
            && [k, v].iter().all(|t| t.device() == q.device() && t.dims() == q.dims())
            && [q, k, v].iter().all(|t| t.dtype() == DType::F32)
            && kernels::attention::HEAD_DIMS.contains(&(d as u32))
    }

    /// `softmax(scale q kᵀ) v` over queries `[..., Nq, d]`, keys and values `[..., Nk, d]`, and the
    /// logsumexp of each row of scaled scores `[..., Nq]` that [`Tensor::attention_backward`] takes.
    pub fn attention_forward(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> (Tensor, Tensor) {
        check_shapes(q, k, v);
        if Tensor::attention_is_fused(q, k, v) {
            return gpu::attention::forward(q, k, v, scale);
        }
        let (lse, p) = probabilities(q, k, scale, None);
        (p.matmul(v), lse.squeeze(-1))
    }

    /// Gradients (dq, dk, dv) of [`Tensor::attention_forward`]'s output for output gradient `dout`,
    /// from the forward's output `out` and logsumexp `lse`: with P = exp(scale q kᵀ − lse) and
    /// Δ = rowsum(dout ∘ out), dv = Pᵀ dout, dS = P ∘ (dout vᵀ − Δ), dq = scale dS k, dk = scale dSᵀ q.
    pub fn attention_backward(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        out: &Tensor,
        lse: &Tensor,
        dout: &Tensor,
        scale: f64,
    ) -> (Tensor, Tensor, Tensor) {
        check_shapes(q, k, v);
        assert!(
            out.dims() == q.dims() && dout.dims() == q.dims() && lse.dims() == &q.dims()[..q.rank() - 1],
            "attention_backward: out {:?}, dout {:?}, lse {:?} for queries {:?}",
            out.shape(),
            dout.shape(),
            lse.shape(),
            q.shape()
        );
        if Tensor::attention_is_fused(q, k, v) {
            return gpu::attention::backward(q, k, v, out, lse, dout, scale);
        }
        let (_, p) = probabilities(q, k, scale, Some(lse)); // [..., Nq, Nk]
        let dv = p.transpose(-2, -1).matmul(dout);
        let delta = dout.mul(out).sum(&[-1], true); // [..., Nq, 1]
        let ds = p.mul(&dout.matmul(&v.transpose(-2, -1)).sub(&delta));
        let dq = ds.matmul(k).mul_scalar(scale);
        let dk = ds.transpose(-2, -1).matmul(q).mul_scalar(scale);
        (dq, dk, dv)
    }
}
