//! Cross-entropy on the GPU: per-row losses and the logits' gradient from one launch of the fused
//! kernel of `kernels::cross_entropy`. Targets are checked on the host and uploaded as u32, as every
//! index is (`index.rs`): a target out of range panics here as on the CPU, rather than being taken
//! for the kernel's "ignore this row" marker.

use super::copy::{alloc_f32, dense_f32, f32_slice, wrap_f32};
use super::{check, runtime};
use crate::Tensor;

const OP: &str = "cross_entropy";

/// (loss per row `[N]`, d mean loss / d logits `[N, C]`) of f32 logits on GPU `ordinal`.
pub(crate) fn cross_entropy(ordinal: usize, logits: &Tensor, targets: &Tensor) -> (Tensor, Tensor) {
    let (n, c) = (logits.dim(0), logits.dim(1));
    let t: Vec<u32> = targets
        .to_vec::<i64>()
        .into_iter()
        .map(|t| {
            assert!(t >= 0 && (t as usize) < c, "{OP}: target {t} is out of range for {c} classes");
            t as u32
        })
        .collect();
    let x = dense_f32(logits, OP);
    let (loss, dlogits) = (alloc_f32(OP, ordinal, n), alloc_f32(OP, ordinal, n * c));
    if n > 0 {
        let gpu = runtime(ordinal);
        let t = check(OP, ordinal, gpu.upload(&t));
        let dscale = 1.0 / n as f32;
        check(
            OP,
            ordinal,
            kernels::cross_entropy::forward_backward(&gpu, &loss, &dlogits, &f32_slice(&x, OP), &t, c, dscale),
        );
    }
    (wrap_f32(ordinal, loss, [n]), wrap_f32(ordinal, dlogits, [n, c]))
}
