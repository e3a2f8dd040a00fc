//! Differentiable ops on `Var`: each forward sits beside its backward rule.
//!
//! A rule receives the gradient `g` of the op's output and returns one gradient per input, shaped
//! like that input. Broadcasting ops sum `g` back down to each input's shape (`Tensor::sum_to`).

mod attention;
mod dropout;
mod elementwise;
mod index;
mod loss;
mod matmul;
mod normalize;
mod reduce;
mod shape;

pub use dropout::{drop_path, dropout};
