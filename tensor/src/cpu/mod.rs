//! CPU kernels: the arithmetic under every tensor op, on plain slices.
//!
//! Nothing here knows about `Tensor`, shapes or strides beyond what a kernel needs (row lengths,
//! matrix strides): the tensor layer (`crate::ops`) turns views into the slices these functions take.
//! Every kernel is vectorised (runtime dispatch AVX-512 → AVX2+FMA → portable, see `simd`) and large
//! inputs are split across threads with rayon.

pub mod adamw;
pub mod attention;
pub mod binary;
pub mod float;
pub mod gemm;
pub mod layernorm;
pub mod mathfn;
pub mod reduce;
pub mod simd;
pub mod softmax;
mod tail;
pub mod unary;

pub use float::Float;

/// Runs `f` in a rayon pool of `threads` threads: the tests that hold a kernel's bits to be the
/// same whatever the thread count.
#[cfg(test)]
pub(crate) fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}
