//! Tensor ops: each file turns views into the slices that a `crate::cpu` kernel takes.

mod attention;
mod conv;
mod elementwise;
mod index;
mod join;
mod loss;
mod matmul;
mod normalize;
pub use normalize::{LayerNormGrads, LayerNormOutput};
mod optim;
pub use optim::{AdamWParam, AdamWStep};
mod patch;
mod reduce;

/// Run a generic body for the compute dtype of a tensor (`f32` or `f64`), naming the op in the panic
/// for any other dtype.
macro_rules! float_dispatch {
    ($dtype:expr, $op:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            other => panic!("{} computes in f32 or f64, but the tensor holds {other} (cast with to_dtype first)", $op),
        }
    };
}
pub(crate) use float_dispatch;

/// Run a generic body for whatever dtype a tensor holds (ops that only move elements).
macro_rules! element_dispatch {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            $crate::DType::F16 => {
                type $T = half::f16;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
        }
    };
}
pub(crate) use element_dispatch;

#[cfg(test)]
mod tests;
