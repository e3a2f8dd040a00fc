//! Scaled dot-product attention as one op with its backward.
//!
//! What the forward saves for the backward depends on where it runs:
//! - on a GPU, f32 operands of one shape `[..., N, d]` with `d` in `kernels::attention::HEAD_DIMS` run
//!   the flash-style kernels (`gpu/attention.rs`), which save each query row's logsumexp `[..., Nq]`
//!   and recompute the probabilities from it;
//! - on the CPU, f32 operands run the fused kernel of `cpu/attention.rs`, which saves the
//!   probabilities `[..., Nq, Nk]` (at ViT sequence lengths, reading them back costs less than
//!   recomputing them);
//! - everything else (other dtypes, other head widths on a GPU) runs the composite below (matmul,
//!   softmax statistics, matmul), which writes the formulas out and saves the logsumexp.

use crate::cpu::attention::{self as cpu, AttentionDims};
use crate::strided::Walk;
use crate::{gpu, DType, Device, Layout, Shape, Tensor};

/// Panics unless q, k, v are `[..., Nq, d]`, `[..., Nk, d]`, `[..., Nk, d]` with the same batch dims.
/// Whether q, k, v are `[..., Nq, d]`, `[..., Nk, d]`, `[..., Nk, e]` with the same batch dims (the
/// fused ops do not broadcast them).
fn shapes_fit(q: &Tensor, k: &Tensor, v: &Tensor) -> bool {
    let r = q.rank();
    r >= 2
        && k.rank() == r
        && v.rank() == r
        && k.dims()[..r - 1] == v.dims()[..r - 1]
        && q.dims()[..r - 2] == k.dims()[..r - 2]
        && q.dim(-1) == k.dim(-1)
}

fn check_shapes(q: &Tensor, k: &Tensor, v: &Tensor) {
    assert!(
        shapes_fit(q, k, v),
        "attention: q {:?}, k {:?}, v {:?} are not [..., Nq, d], [..., Nk, d], [..., Nk, e]",
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

/// Whether the CPU's fused kernel takes these operands: f32, all on the CPU.
fn cpu_fused(q: &Tensor, k: &Tensor, v: &Tensor) -> bool {
    [q, k, v].iter().all(|t| t.device() == Device::Cpu && t.dtype() == DType::F32)
}

/// The kernel's block shape for checked operands: batch dims flattened into `bh`.
fn cpu_dims(q: &Tensor, k: &Tensor, v: &Tensor) -> AttentionDims {
    let r = q.rank();
    let bh = q.dims()[..r - 2].iter().product();
    AttentionDims { bh, n: q.dim(-2), m: k.dim(-2), d: q.dim(-1), e: v.dim(-1) }
}

/// A contiguous f32 view's values.
fn f32s(t: &Tensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous tensor")
}

/// The matrices of an f32 CPU tensor `[..., rows, cols]` where they lie, one per index of the
/// leading axes (row-major over them), without copying.
fn blocks(t: &Tensor) -> cpu::Blocks<'_> {
    let (r, layout) = (t.rank(), t.layout());
    let (batch, strides) = (Shape::new(&t.dims()[..r - 2]), layout.strides()[..r - 2].to_vec());
    let count = batch.numel();
    // Element i of the batch axes alone is where matrix i starts (as in batched matmul).
    let starts = Walk::new(&Layout::new(batch, strides, layout.offset()));
    let offsets = (0..count).map(|i| starts.element_start(i)).collect();
    let (rs, cs) = (layout.strides()[r - 2], layout.strides()[r - 1]);
    cpu::Blocks { data: t.buffer::<f32>(), offsets, rows: t.dim(-2), cols: t.dim(-1), rs, cs }
}

fn cpu_forward(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> (Tensor, Tensor) {
    let dims = cpu_dims(q, k, v);
    let mut out = crate::pool::for_overwrite(dims.bh * dims.n * dims.e);
    let mut probs = crate::pool::for_overwrite(dims.bh * dims.n * dims.m);
    cpu::attention_forward(&blocks(q), &blocks(k), &blocks(v), dims, scale as f32, &mut out, &mut probs);
    let batch = &q.dims()[..q.rank() - 2];
    let shape = |last: [usize; 2]| [batch, &last[..]].concat();
    (Tensor::from_values(out, shape([dims.n, dims.e])), Tensor::from_values(probs, shape([dims.n, dims.m])))
}

fn cpu_backward(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    probs: &Tensor,
    dout: &Tensor,
    scale: f64,
) -> (Tensor, Tensor, Tensor) {
    let dims = cpu_dims(q, k, v);
    let pc = probs.contiguous();
    let mut dq = crate::pool::for_overwrite(q.numel());
    let mut dk = crate::pool::for_overwrite(k.numel());
    let mut dv = crate::pool::for_overwrite(v.numel());
    let (q_, k_, v_, d_) = (blocks(q), blocks(k), blocks(v), blocks(dout));
    cpu::attention_backward(&q_, &k_, &v_, f32s(&pc), &d_, dims, scale as f32, &mut dq, &mut dk, &mut dv);
    let t = |x, like: &Tensor| Tensor::from_values(x, like.shape().clone());
    (t(dq, q), t(dk, k), t(dv, v))
}

impl Tensor {
    /// Whether [`Tensor::attention_forward`] and [`Tensor::attention_backward`] run a fused kernel for
    /// these operands (see the module doc): f32 on the CPU, with q, k and v of the same batch dims;
    /// on a GPU, f32 operands all of one shape
    /// `[..., N, d]` (as many keys as queries) with a head dimension the kernels are generated for.
    pub fn attention_is_fused(q: &Tensor, k: &Tensor, v: &Tensor) -> bool {
        if cpu_fused(q, k, v) {
            return shapes_fit(q, k, v);
        }
        let Device::Gpu(_) = q.device() else { return false };
        let d = q.dims().last().copied().unwrap_or(0);
        q.rank() >= 2
            && [k, v].iter().all(|t| t.device() == q.device() && t.dims() == q.dims())
            && [q, k, v].iter().all(|t| t.dtype() == DType::F32)
            && kernels::attention::HEAD_DIMS.contains(&(d as u32))
    }

    /// `softmax(scale q kᵀ) v` over queries `[..., Nq, d]`, keys `[..., Nk, d]` and values
    /// `[..., Nk, e]` (the same batch dims, not broadcast), and what
    /// [`Tensor::attention_backward`] takes from it: the probabilities `[..., Nq, Nk]` on the CPU's
    /// fused path, elsewhere the logsumexp of each row of scaled scores `[..., Nq]`.
    pub fn attention_forward(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> (Tensor, Tensor) {
        check_shapes(q, k, v);
        if cpu_fused(q, k, v) {
            return cpu_forward(q, k, v, scale);
        }
        if Tensor::attention_is_fused(q, k, v) {
            return gpu::attention::forward(q, k, v, scale);
        }
        let (lse, p) = probabilities(q, k, scale, None);
        (p.matmul(v), lse.squeeze(-1))
    }

    /// Gradients (dq, dk, dv) of [`Tensor::attention_forward`]'s output for output gradient `dout`,
    /// from the forward's output `out` and what it saved (`saved`: the probabilities P on the CPU's
    /// fused path, the logsumexp `lse` elsewhere): with P = exp(scale q kᵀ − lse) and
    /// Δ = rowsum(dout ∘ out), dv = Pᵀ dout, dS = P ∘ (dout vᵀ − Δ), dq = scale dS k, dk = scale dSᵀ q.
    pub fn attention_backward(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        out: &Tensor,
        saved: &Tensor,
        dout: &Tensor,
        scale: f64,
    ) -> (Tensor, Tensor, Tensor) {
        check_shapes(q, k, v);
        // The output's shape: a row of v's width per query.
        let out_dims = [&q.dims()[..q.rank() - 1], &[v.dim(-1)][..]].concat();
        if cpu_fused(q, k, v) {
            let want = [&q.dims()[..q.rank() - 1], &[k.dim(-2)][..]].concat();
            assert!(
                dout.dims() == out_dims && saved.dims() == want,
                "attention_backward: dout {:?} and probabilities {:?} for queries {:?}, keys {:?}",
                dout.shape(),
                saved.shape(),
                q.shape(),
                k.shape()
            );
            return cpu_backward(q, k, v, saved, dout, scale);
        }
        let lse = saved;
        assert!(
            out.dims() == out_dims && dout.dims() == out_dims && lse.dims() == &q.dims()[..q.rank() - 1],
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
