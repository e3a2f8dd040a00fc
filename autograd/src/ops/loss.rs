//! Losses: fused cross-entropy with integer targets, and mean squared error.

use tensor::{DType, Device, Tensor};

use crate::tape::record;
use crate::Var;

impl Var {
    /// Mean cross-entropy of logits [N, C] against i64 class indices [N].
    ///
    /// Fused: the forward keeps log-probabilities, the backward is `(softmax − onehot) / N`. For f32
    /// logits on a GPU, one kernel launch gives the row losses and that gradient at once; the
    /// forward keeps the gradient and the backward only scales it.
    pub fn cross_entropy(&self, targets: &Tensor) -> Var {
        assert_eq!(self.rank(), 2, "cross_entropy takes logits [N, C], got {:?}", self.shape());
        let n = self.dim(0);
        assert!(
            targets.dtype() == DType::I64 && targets.dims() == [n],
            "cross_entropy: targets must be i64 [{n}], got {} {:?}",
            targets.dtype(),
            targets.shape()
        );
        if let (Device::Gpu(_), DType::F32) = (self.value().device(), self.dtype()) {
            let (rows, dlogits) = self.value().cross_entropy_with_grad(targets); // [N], [N, C]
            return record(rows.mean_all(), &[self], move |g| vec![Some(dlogits.mul(g))]);
        }
        let logp = self.value().log_softmax(-1);
        let picked = targets.reshape([n, 1]);
        let loss = logp.gather(1, &picked).mean_all().neg();
        record(loss, &[self], move |g| {
            let minus_one = Tensor::full_on([n, 1], -1.0, logp.dtype(), logp.device());
            let dx = logp.exp().scatter_add(1, &picked, &minus_one);
            vec![Some(dx.mul(&g.div_scalar(n as f64)))]
        })
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
