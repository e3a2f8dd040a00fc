//! `tensor`: n-dimensional arrays for the CAE stack.
pub mod cpu;
