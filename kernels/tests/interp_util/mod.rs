//! Helpers shared by the interpreter tests: an interpreter-backed `Gpu` and the test PTX files.
#![allow(dead_code)]

use std::sync::Arc;

use kernels::interp::Interpreter;
use kernels::{Arg, Buffer, Gpu, LaunchConfig, Pod};

/// The text of `tests/ptx/<name>.ptx`.
pub fn ptx(name: &str) -> String {
    let path = format!("{}/tests/ptx/{name}.ptx", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// A fresh interpreter with the module `name` (from tests/ptx) loaded.
pub fn gpu_with(name: &str) -> Gpu {
    let gpu = Gpu::new(Arc::new(Interpreter::new()));
    gpu.load(name, &ptx(name)).unwrap_or_else(|e| panic!("loading {name}: {e}"));
    gpu
}

/// A launch of `grid` CTAs of `block` threads (1-D).
pub fn cfg(grid: u32, block: u32) -> LaunchConfig {
    LaunchConfig::linear(grid * block, block)
}

/// A zeroed buffer of `n` elements.
pub fn zeros<T: Pod>(gpu: &Gpu, n: usize) -> Buffer<T> {
    gpu.zeros(n).expect("alloc")
}

/// Launches and expects failure; returns the message.
pub fn launch_err(gpu: &Gpu, module: &str, kernel: &str, cfg: LaunchConfig, args: &[Arg]) -> String {
    match gpu.launch(module, kernel, &cfg, args) {
        Ok(()) => panic!("{kernel} was expected to fail"),
        Err(e) => e.to_string(),
    }
}

/// f32 bits as a value.
pub fn f(bits: u32) -> f32 {
    f32::from_bits(bits)
}
