//! Losses: fused cross-entropy with integer targets, and mean squared error.

use tensor::Tensor;

use crate::tape::record;
use crate::Var;

impl Var {
    /// Mean cross-entropy of logits `[N, C]` against i64 class indices `[N]`.
    ///
    /// Fused ([`Tensor::cross_entropy_with_grad`]): the forward computes the row losses and the
    /// gradient `(softmax − onehot) / N` at once (one kernel launch for f32 logits on a GPU) and keeps
    /// the gradient; the backward only scales it.
    pub fn cross_entropy(&self, targets: &Tensor) -> Var {
        let (rows, dlogits) = self.value().cross_entropy_with_grad(targets); // [N], [N, C]
        record(rows.mean_all(), &[self], move |g| vec![Some(dlogits.mul(g))])
    }

    /// Mean of the squared differences, over every element.
    pub fn mse(&self, target: &Var) -> Var {
        assert_eq!(self.shape(), target.shape(), "mse: {:?} against {:?}", self.shape(), target.shape());
        let diff = self.value().sub(target.value());
        let n = diff.numel() as f64;
        let loss = diff.square().mean_all();
        record(loss, &[self, target], move |g| {
            let d = diff.mul(&g.mul_scalar(2.0 / n));
            vec![Some(d.clone()), Some(d.neg())]
        })
    }
}
