//! The GPU device: tensors whose elements live in device memory, and the ops that run there.
//!
//! A tensor moves with [`Tensor::to_device`](crate::Tensor::to_device)`(Device::Gpu(0))` and comes back
//! with [`to_cpu`](crate::Tensor::to_cpu); [`Tensor::device`](crate::Tensor::device) says where it is.
//! Views (reshape, permute, narrow, broadcast, ...) are layouts and work unchanged on either device.
//! Ops on GPU tensors run PTX kernels from the `kernels` crate; every operand of an op must be on the
//! same device (an op never copies between devices behind your back), and an op that has no GPU
//! kernel yet panics naming itself, the tensor and the way out (`.to_cpu()`).
//!
//! What runs `Device::Gpu(n)` is chosen once per process ([`select`], else `CAE_GPU`, else the best
//! available): the CUDA driver when `tensor` is built with its `cuda` feature and a driver and GPU are
//! present, otherwise the PTX interpreter, which runs the same kernels on the CPU (slowly, with every
//! memory access checked). The choice is printed once per device.
//!
//! One file per op family: `copy.rs` (host <-> device, contiguous copies, casts, constants),
//! `elementwise.rs`, `reduce.rs`, `matmul.rs`, `normalize.rs` (softmax, layer norm), `index.rs`,
//! `join.rs`, `optim.rs` (fused multi-tensor AdamW), `loss.rs` (fused cross-entropy), `attention.rs`
//! (flash attention). `runtime.rs` holds the device table and its pools, `storage.rs` the device buffers.

pub(crate) mod attention;
pub(crate) mod copy;
pub(crate) mod elementwise;
pub(crate) mod index;
pub(crate) mod join;
pub(crate) mod loss;
pub(crate) mod matmul;
pub(crate) mod normalize;
pub(crate) mod optim;
pub(crate) mod reduce;
mod runtime;
mod storage;

pub use kernels::pool::PoolStats;
pub use runtime::{empty_cache, interpreter_status, pool_stats, runtime, select, GpuBackend};
pub use storage::{GpuBuffer, GpuStorage};

use crate::{Device, Tensor};

/// The GPU ordinal shared by all `tensors` of op `op`, or `None` when they are all on the CPU.
/// Panics, naming the op and the devices, when they are split across devices.
/// (`op` is only formatted for the panic: this runs on every CPU op.)
#[inline]
pub(crate) fn placement(op: &dyn std::fmt::Debug, tensors: &[&Tensor]) -> Option<usize> {
    let first = tensors[0].device();
    for t in &tensors[1..] {
        if t.device() != first {
            mixed(op, first, t.device());
        }
    }
    match first {
        Device::Cpu => None,
        Device::Gpu(n) => Some(n),
    }
}

#[cold]
fn mixed(op: &dyn std::fmt::Debug, a: Device, b: Device) -> ! {
    panic!("{op:?}: operands on {a} and {b}; move one with .to_device() first (ops never copy between devices)")
}

/// True when `t` lives on a GPU: the branch every op takes before its CPU code.
#[inline(always)]
pub(crate) fn on_gpu(t: &Tensor) -> bool {
    t.gpu_storage().is_some()
}

/// Panics for an op that has no GPU kernel yet, saying how to proceed.
#[cold]
pub(crate) fn unsupported(op: &str, t: &Tensor) -> ! {
    panic!(
        "{op} is not implemented on the GPU yet (operand: {} {:?} on {}); move the operands with \
         .to_cpu(), run it there, and bring the result back with .to_device({})",
        t.dtype(),
        t.shape(),
        t.device(),
        t.device()
    )
}

/// Unwraps a launch result, naming the op and the device on failure (a kernel fault is a bug).
pub(crate) fn check<T>(op: &str, device: usize, r: kernels::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{op} on gpu:{device}: {e}"))
}
