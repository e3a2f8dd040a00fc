//! `tensor`: n-dimensional arrays for the CAE stack, with strided views, several dtypes and fast
//! CPU kernels.
//!
//! The story of the crate, from the bottom up:
//! - [`Shape`] and [`Layout`] (`shape.rs`, `layout.rs`) say where each element lives: sizes, strides
//!   in elements and an offset. Views (permute, narrow, broadcast, reshape when possible) only
//!   build a new layout (`view.rs`).
//! - [`DType`] and [`CpuStorage`] (`dtype.rs`, `storage.rs`) hold the elements: f32 to compute,
//!   f64 for gradient checks, bf16/f16 to store, u8 for pixels and masks, i64 for indices.
//! - [`Tensor`] (`tensor.rs`) is a shared storage seen through a layout. Tensors are values: ops
//!   return new tensors.
//! - `cpu/` holds the kernels on plain slices: the BLIS-style GEMM, and vectorised, parallel
//!   elementwise maps, reductions, softmax and layer norm. `strided.rs` turns views into the rows
//!   these kernels read.
//! - `ops/` connects the two: broadcasting, reductions over any axes, matmul, normalisations,
//!   indexing, joins and patchify.
//! - `random.rs` makes seeded random tensors that are the same on every machine.
//! - `pool.rs` recycles large buffers between ops, so a training step does not page-fault.
//! - [`gpu`] is the GPU device: `tensor.to_device(Device::Gpu(0))` puts a tensor in device memory, and
//!   the ops above then run PTX kernels from the `kernels` crate (on CUDA, or on its PTX interpreter),
//!   allocating through a caching pool per device. Three ops exist mainly for their fused GPU kernels:
//!   [`Tensor::adamw_update_many`] (one launch for all parameters), [`Tensor::cross_entropy_with_grad`]
//!   and [`Tensor::attention_forward`] / [`Tensor::attention_backward`] (both composed on the CPU).
//!
//! ```
//! use tensor::{DType, Tensor};
//! let x = Tensor::randn([2, 4, 8], 0.0, 1.0, DType::F32, 0); // [B, N, D]
//! let w = Tensor::randn([16, 8], 0.0, 0.1, DType::F32, 1); // [out, in], as PyTorch stores it
//! let y = x.matmul(&w.t()).gelu(); // [B, N, 16]; w.t() is a view, not a copy
//! let p = y.softmax(-1);
//! assert_eq!(p.dims(), &[2, 4, 16]);
//! assert!((p.sum(&[-1], false).to_vec::<f32>()[0] - 1.0).abs() < 1e-5);
//! ```
//!
//! Ops panic, with the shapes in the message, when handed operands that do not fit (like indexing
//! out of bounds): those are programming errors. Inputs from files are checked by their readers.

#![warn(missing_docs)]

mod cast;
pub mod cpu;
mod create;
mod display;
mod dtype;
pub mod gpu;
mod layout;
mod ops;
pub mod pool;
pub mod random;
mod shape;
mod storage;
pub mod strided;
mod tensor;
mod view;

pub use cpu::binary::{BinaryOp, CmpOp};
pub use cpu::reduce::ReduceOp;
pub use cpu::unary::UnaryOp;
pub use dtype::{DType, Element};
pub use layout::Layout;
pub use ops::{AdamWParam, AdamWStep, LayerNormGrads, LayerNormOutput};
pub use random::Rng;
pub use shape::Shape;
pub use storage::{CpuStorage, Device};
pub use tensor::Tensor;
