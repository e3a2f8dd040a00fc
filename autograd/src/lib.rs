//! `autograd`: reverse-mode automatic differentiation over `tensor`'s ops.
//!
//! # How it works
//! A [`Var`] is a tensor that may be *tracked*. Every op on tracked `Var`s computes its value with
//! `tensor` and appends one entry to a thread-local **tape**: which value it produced, from which
//! inputs, and a closure — the op's backward rule — that maps the gradient of its output to
//! gradients of its inputs. The closure owns what the rule needs from the forward pass (an input,
//! an output, layer-norm statistics). [`Var::backward`] walks the tape from the last entry to the
//! first, carrying a map from value to gradient; each entry's closure runs once and is dropped, so
//! what it saved is freed as soon as it has been used. Gradients that reach a [`Param`] (a leaf)
//! are *added* to the parameter's gradient, so several backward passes accumulate (micro-batches)
//! until [`Param::zero_grad`]. After `backward` the tape is empty.
//!
//! So one tape holds one graph, built on one thread, and is used once: a value recorded before a
//! `backward` (or [`clear_tape`]), or on another thread, is not on the tape that follows, and an op
//! or a `backward` that meets one panics rather than quietly dropping its gradient. Each forward
//! pass reads its parameters afresh with [`Param::var`]; two losses are added, then back-propagated
//! once.
//!
//! A worked example, `L = Σ (w·x)²` for a parameter `w` and a constant `x`:
//! ```
//! use autograd::{Param, Var};
//! use tensor::{DType, Tensor};
//!
//! let w = Param::new(Tensor::from_vec(vec![1.0f64, 2.0], [2]));
//! let x = Var::constant(Tensor::from_vec(vec![3.0f64, 4.0], [2]));
//! // Tape after these lines: [mul: y = w·x] [square: z = y²] [sum: L = Σ z]
//! let loss = w.var().mul(&x).square().sum_all();
//! assert_eq!(loss.value().item(), 9.0 + 64.0);
//! // Backward walks the tape in reverse: dL/dz = 1, dL/dy = 2y, dL/dw = 2y·x.
//! loss.backward();
//! assert_eq!(w.grad().unwrap().to_vec::<f64>(), vec![2.0 * 3.0 * 3.0, 2.0 * 8.0 * 4.0]);
//! assert_eq!(autograd::tape_len(), 0); // the tape is released
//! ```
//!
//! Inside [`no_grad`] nothing is recorded (CAE's alignment branch, evaluation); [`Var::detach`]
//! cuts one value from the graph. Every backward rule is checked against finite differences in
//! f64 ([`gradcheck`]). Parameters live in a [`ParamStore`] under the names of the official CAE
//! state dict.
//!
//! Mixed precision: inside [`bf16_matmuls`], products of f32 values on a GPU run in bf16 on tensor
//! cores with f32 accumulation, while parameters and gradients stay f32.

#![warn(missing_docs)]

pub mod gradcheck;
mod ops;
mod params;
mod precision;
mod tape;
mod var;

pub use ops::{drop_path, dropout};
pub use params::ParamStore;
pub use precision::{bf16_matmuls, bf16_matmuls_enabled};
pub use tape::{backward, clear_tape, is_recording, no_grad, tape_len, NodeId};
pub use var::{Param, Var};
