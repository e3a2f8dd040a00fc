//! Cross-entropy's loss and gradient in one op, which autograd's loss keeps for its backward.

use crate::{gpu, DType, Device, Tensor};

impl Tensor {
    /// For logits `self` `[N, C]` and i64 class indices `targets` `[N]` (on either device): the loss
    /// of each row, `logsumexp(row) − row[target]` `[N]`, and the gradient of their mean with respect
    /// to the logits, `(softmax − onehot) / N` `[N, C]`. A target outside `0..C` panics.
    ///
    /// On a GPU, for f32 logits, both come from one launch of the fused kernel (probabilities never
    /// stored); elsewhere from log-softmax, gather and scatter-add.
    pub fn cross_entropy_with_grad(&self, targets: &Tensor) -> (Tensor, Tensor) {
        assert_eq!(self.rank(), 2, "cross_entropy_with_grad takes logits [N, C], got {:?}", self.shape());
        let n = self.dim(0);
        assert!(
            targets.dtype() == DType::I64 && targets.dims() == [n],
            "cross_entropy_with_grad: targets must be i64 [{n}], got {} {:?}",
            targets.dtype(),
            targets.shape()
        );
        if let (Device::Gpu(ordinal), DType::F32) = (self.device(), self.dtype()) {
            return gpu::loss::cross_entropy(ordinal, self, targets);
        }
        let logp = self.log_softmax(-1);
        let picked = targets.reshape([n, 1]);
        let loss = logp.gather(1, &picked).reshape([n]).neg();
        let minus_one = Tensor::full_on([n, 1], -1.0, logp.dtype(), logp.device());
        let dlogits = logp.exp().scatter_add(1, &picked, &minus_one).div_scalar(n as f64);
        (loss, dlogits)
    }
}
