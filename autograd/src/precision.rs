//! Mixed precision: matrix products in bf16 on the GPU's tensor cores, everything else (and every
//! parameter, the "master weights", and every gradient) in f32.
//!
//! Inside [`bf16_matmuls`], `Var::matmul` of two f32 values on a GPU casts both operands to bf16
//! (recorded casts, so their gradients come back as f32) and multiplies them with the tensor-core
//! GEMM, which accumulates and returns f32. The backward products run the same way: the incoming f32
//! gradient is cast to the operands' bf16. On the CPU, which has no bf16 product, nothing changes.
//! The switch is per thread, like the tape, and nests.

use std::cell::Cell;

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// True inside [`bf16_matmuls`] on this thread.
pub fn bf16_matmuls_enabled() -> bool {
    DEPTH.with(Cell::get) > 0
}

/// Runs `f` with f32 matrix products on GPU tensors computed from bf16 operands (f32 results).
pub fn bf16_matmuls<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    DEPTH.with(|d| d.set(d.get() + 1));
    let _leave = Leave;
    f()
}
