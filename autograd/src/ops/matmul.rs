//! Matrix products. For `c = a·b`: `da = g·bᵀ`, `db = aᵀ·g`, each summed over broadcast batch dims.

use tensor::{DType, Device, Tensor};

use crate::tape::record;
use crate::Var;

/// `g` cast to `dtype` when it differs (the f32 gradient of a bf16 product).
fn in_dtype(g: &Tensor, dtype: DType) -> Tensor {
    if g.dtype() == dtype {
        g.clone()
    } else {
        g.to_dtype(dtype)
    }
}

/// `x` with its batch dims folded into the rows: [..., m, k] → [(...)·m, k].
fn fold_rows(x: &Tensor) -> Tensor {
    let k = x.dim(-1);
    x.reshape([x.numel() / k.max(1), k])
}

impl Var {
    /// [..., m, k] · [..., k, n] → [..., m, n], batch dims broadcast.
    pub fn matmul(&self, other: &Var) -> Var {
        let f32_on_gpu = |v: &Var| v.dtype() == DType::F32 && v.value().device() != Device::Cpu;
        if crate::bf16_matmuls_enabled() && f32_on_gpu(self) && f32_on_gpu(other) {
            return self.to_dtype(DType::BF16).matmul(&other.to_dtype(DType::BF16));
        }
        let (a, b) = (self.value(), other.value());
        let y = a.matmul(b);
        // da = g·bᵀ needs b; db = aᵀ·g needs a. Keep only what a tracked input's rule reads.
        let (sa, sb, a_dtype) = (a.shape().clone(), b.shape().clone(), a.dtype());
        let (keep_b, keep_a) = (self.is_tracked().then(|| b.clone()), other.is_tracked().then(|| a.clone()));
        record(y, &[self, other], move |g| {
            // A bf16 product (mixed precision) gives f32; its gradient products take bf16 again.
            let g = &in_dtype(g, a_dtype);
            let da = keep_b.map(|b| g.matmul(&b.t()).sum_to(&sa));
            let db = keep_a.map(|a| {
                if sb.rank() == 2 && a.rank() > 2 {
                    // A weight shared by the whole batch: one big product instead of a batch of
                    // small ones and a sum.
                    fold_rows(&a).t().matmul(&fold_rows(g))
                } else {
                    a.t().matmul(g).sum_to(&sb)
                }
            });
            vec![da, db]
        })
    }

    /// A Linear layer: `x · wᵀ + b` with `w` stored [out, in] as PyTorch stores it.
    ///
    /// With a bias, for f32 on the CPU, one op ([`Tensor::linear`], the bias accumulated into the
    /// GEMM) with the rules of the composite: dx = g·w, dw = gᵀ·x over all rows, db = Σ_rows g.
    /// Elsewhere (GPU, mixed precision, f64 gradient checks) the composite itself.
    pub fn linear(&self, weight: &Var, bias: Option<&Var>) -> Var {
        let cpu_f32 = |v: &Var| v.dtype() == DType::F32 && v.value().device() == Device::Cpu;
        let Some(b) = bias.filter(|b| [self, weight, b].into_iter().all(cpu_f32) && self.rank() >= 2) else {
            let y = self.matmul(&weight.transpose(0, 1));
            return match bias {
                Some(b) => y.add(b),
                None => y,
            };
        };
        let (x, w) = (self.value(), weight.value());
        let y = x.linear(w, b.value());
        let (keep_w, keep_x) = (self.is_tracked().then(|| w.clone()), weight.is_tracked().then(|| x.clone()));
        let b_tracked = b.is_tracked();
        record(y, &[self, weight, b], move |g| {
            let dx = keep_w.map(|w| g.matmul(&w));
            let dw = keep_x.map(|x| fold_rows(g).t().matmul(&fold_rows(&x)));
            let db = b_tracked.then(|| fold_rows(g).sum(&[0], false));
            vec![dx, dw, db]
        })
    }
}
