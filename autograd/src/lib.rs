//! `autograd`: reverse-mode automatic differentiation over `tensor` ops (the tape, `Var`,
//! `backward`, `no_grad`, gradient checks). Built by the autograd issue; empty until then.
