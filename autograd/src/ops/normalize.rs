//! Softmax, log-softmax and layer norm, each fused: one kernel forward, one kernel backward, and a
//! test against the same function composed from primitive ops.

use tensor::Tensor;

use crate::tape::record;
use crate::Var;

impl Var {
    /// Softmax along `axis`; the backward needs only the output: `y ∘ (g − Σ g∘y)`.
    pub fn softmax(&self, axis: isize) -> Var {
        let y = self.value().softmax(axis);
        let saved = y.clone();
        record(y, &[self], move |g| vec![Some(Tensor::softmax_backward(&saved, g, axis))])
    }

    /// Log-softmax along `axis`; the backward needs only the output: `g − e^y · Σ g`.
    pub fn log_softmax(&self, axis: isize) -> Var {
        let y = self.value().log_softmax(axis);
        let saved = y.clone();
        record(y, &[self], move |g| vec![Some(Tensor::log_softmax_backward(&saved, g, axis))])
    }

    /// Layer norm over the last dim with optional affine weight and bias.
    pub fn layer_norm(&self, weight: Option<&Var>, bias: Option<&Var>, eps: f64) -> Var {
        let x = self.value().clone();
        let w = weight.map(|w| w.value().clone());
        let out = x.layer_norm_with_stats(w.as_ref(), bias.map(Var::value), eps);
        let (mean, rstd) = (out.mean, out.rstd);
        let (want_w, want_b) = (weight.is_some_and(Var::is_tracked), bias.is_some_and(Var::is_tracked));
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        let has = (weight.is_some(), bias.is_some());
        record(out.y, &inputs, move |g| {
            let grads = Tensor::layer_norm_backward(&x, g, w.as_ref(), &mean, &rstd, want_w, want_b);
            let mut out = vec![Some(grads.dx)];
            if has.0 {
                out.push(grads.dweight);
            }
            if has.1 {
                out.push(grads.dbias);
            }
            out
        })
    }
}
