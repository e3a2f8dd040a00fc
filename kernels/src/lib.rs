//! `kernels`: the GPU side of the stack — PTX sources, the launch API, and two backends that run them:
//! the CUDA driver (through cudarc, `cuda` feature, loaded at run time) and a PTX interpreter that
//! executes the same PTX on the CPU with the CUDA execution model (always built).
//!
//! The crate depends on nothing else of ours, so a kernel engineer can use it alone.
//!
//! - [`launch`]: grid/block dimensions and kernel arguments, shared by both backends.
//! - [`backend`]: the [`Backend`] trait a backend implements (memory, modules, launches).
//! - [`gpu`]: [`Gpu`], the handle user code holds, and typed device buffers ([`Buffer`]).
//! - [`interp`]: the PTX interpreter backend.
//! - [`pool`]: [`pool::Pool`], a caching allocator in front of either backend.
//! - `cuda` (feature `cuda`): the CUDA driver backend.
//! - [`ptx`]: PTX sources and the templates generating their variants; [`ptx::all`] lists every module.
//!
//! Kernel families, each with a CPU reference and typed launch wrappers (README.md tells the anatomy):
//! - [`gemm`]: f32 GEMM, numbered variants 1 naive, 2 shared-memory tiled, 3 register-blocked.
//! - [`gemm_bf16`]: variant 4, bf16 tensor cores (mma.sync, ldmatrix, cp.async double buffering).
//! - [`softmax`]: row softmax forward and backward (warp per row, shuffle reductions).
//! - [`layernorm`]: layernorm forward (saving mean and rstd) and backward (dx, dweight, dbias).
//! - [`elementwise`]: GELU (erf form) forward and backward, broadcasting add and mul.
//! - [`reduce`]: sums over rows or columns.
//! - [`reduce_rows`]: sum, max, min, sum of squares, argmax, argmin of each row (a warp per row).
//! - [`strided`]: strided views (permuted, narrowed, broadcast) and the strided copy into a contiguous buffer.
//! - [`map`]: elementwise unary / binary / comparison maps over strided views with broadcasting.
//! - [`cast`]: f32 <-> bf16, round to nearest even.
//! - [`cross_entropy`]: fused cross-entropy loss and dlogits.
//! - [`gather`]: take / put rows by an index list (masked patches).
//! - [`adamw`]: fused multi-tensor AdamW.
//! - [`attention`]: flash-style attention forward (online softmax over shared-memory key tiles) and backward.

pub mod adamw;
pub mod attention;
pub mod backend;
pub mod cast;
pub mod cross_entropy;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod elementwise;
pub mod error;
pub mod gather;
pub mod gemm;
pub mod gemm_bf16;
pub mod gpu;
pub mod interp;
pub mod launch;
pub mod layernorm;
pub mod map;
pub mod pool;
pub mod ptx;
pub mod reduce;
pub mod reduce_rows;
pub mod softmax;
pub mod strided;

pub use backend::Backend;
pub use error::{Error, Result};
pub use gpu::{Buffer, Gpu, Pod, Slice};
pub use launch::{Arg, Dim3, LaunchConfig};
