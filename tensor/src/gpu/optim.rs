//! The AdamW update on the GPU: the fused multi-tensor kernel of `kernels::adamw`, one launch for
//! any number of parameters, writing fresh buffers (tensors are values; the inputs stay as they
//! were). The kernel does the CPU's fused pass (`cpu/adamw.rs`) operation for operation with
//! correctly rounded f32 arithmetic and the same f32 scalars, so both devices give the same bits.

use kernels::adamw::{Hyper, Tensor as KernelTensor};

use super::copy::{alloc_f32, dense_f32, f32_slice, wrap_f32};
use super::{check, runtime};
use crate::{AdamWParam, Tensor};

const OP: &str = "adamw_update";

/// (weights, first moment, second moment) after one step for each parameter, in one launch. Every
/// parameter is on GPU `ordinal`, and their steps differ at most in weight decay.
pub(crate) fn adamw_update_many(ordinal: usize, params: &[AdamWParam]) -> Vec<(Tensor, Tensor, Tensor)> {
    let Some(first) = params.first() else { return Vec::new() };
    let s = first.step;
    let h = Hyper { lr: s.lr, beta1: s.beta1, beta2: s.beta2, eps: s.eps, step: s.t, grad_scale: s.grad_scale };
    let inputs: Vec<[Tensor; 4]> = params.iter().map(|p| [p.w, p.grad, p.m, p.v].map(|t| dense_f32(t, OP))).collect();
    let outputs: Vec<[kernels::Buffer<f32>; 3]> =
        inputs.iter().map(|x| [(); 3].map(|_| alloc_f32(OP, ordinal, x[0].numel()))).collect();
    {
        let views: Vec<[kernels::Slice<f32>; 4]> =
            inputs.iter().map(|x| x.each_ref().map(|t| f32_slice(t, OP))).collect();
        let tensors: Vec<KernelTensor> = views
            .iter()
            .zip(&outputs)
            .zip(params)
            .map(|(([w, g, m, v], [nw, nm, nv]), p)| KernelTensor {
                param: w,
                grad: g,
                m,
                v,
                new_param: nw,
                new_m: nm,
                new_v: nv,
                weight_decay: p.step.weight_decay,
            })
            .collect();
        check(OP, ordinal, kernels::adamw::step(&runtime(ordinal), &tensors, &h));
    }
    outputs
        .into_iter()
        .zip(params)
        .map(|([w, m, v], p)| {
            let shape = p.w.shape();
            (
                wrap_f32(ordinal, w, shape.clone()),
                wrap_f32(ordinal, m, shape.clone()),
                wrap_f32(ordinal, v, shape.clone()),
            )
        })
        .collect()
}
