//! Layers, each holding its parameters (registered in a `ParamStore` under the official CAE
//! names) and a `forward` over `autograd::Var`.

mod attention;
mod block;
pub mod init;
mod linear;

pub use attention::{Attention, CrossAttention};
pub use block::{Block, CrossBlock, MLP_RATIO};
pub use linear::{LayerNorm, Linear, Mlp, LN_EPS};

#[cfg(test)]
mod tests;
