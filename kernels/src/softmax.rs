//! Softmax over the last axis of a `[rows, cols]` matrix, forward and backward (PTX in `ptx/softmax.ptx`).
//!
//! Forward variants: 1 [`Variant::Naive`], a thread per row; 2 [`Variant::Warp`], a warp per row with
//! coalesced loads and butterfly-shuffle reductions (the backward is built the same way).

use crate::ptx::{self, Module};
use crate::{Arg, Buffer, Dim3, Gpu, LaunchConfig, Result};

const MODULE: &str = "softmax";
/// Rows per block: one warp each.
const ROWS_PER_BLOCK: u32 = 4;

/// The softmax module.
pub fn modules() -> Vec<Module> {
    vec![Module { name: MODULE.into(), ptx: include_str!("ptx/softmax.ptx").into() }]
}

/// One warp per row, `ROWS_PER_BLOCK` rows per block.
pub(crate) fn warp_per_row(rows: usize) -> LaunchConfig {
    let grid = (rows as u32).div_ceil(ROWS_PER_BLOCK).max(1);
    LaunchConfig { grid: Dim3::x(grid), block: Dim3::x(32 * ROWS_PER_BLOCK), shared_bytes: 0 }
}

fn check(what: &str, bufs: &[usize], rows: usize, cols: usize) {
    assert!(bufs.iter().all(|&l| l >= rows * cols), "{what}: buffers hold fewer than {rows} x {cols}");
}

/// Numbered forward variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// 1: one thread per row.
    Naive,
    /// 2: one warp per row, shuffle reductions.
    Warp,
}

/// Threads per block of the naive variant.
const NAIVE_BLOCK: u32 = 128;

/// `out = softmax(x)` row by row, with the fast variant.
pub fn forward(gpu: &Gpu, out: &Buffer<f32>, x: &Buffer<f32>, rows: usize, cols: usize) -> Result<()> {
    forward_variant(gpu, Variant::Warp, out, x, rows, cols)
}

/// `out = softmax(x)` row by row, with variant `v`.
pub fn forward_variant(
    gpu: &Gpu,
    v: Variant,
    out: &Buffer<f32>,
    x: &Buffer<f32>,
    rows: usize,
    cols: usize,
) -> Result<()> {
    check("softmax forward", &[out.len(), x.len()], rows, cols);
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)?;
    let args = [out.arg(), x.arg(), Arg::U32(rows as u32), Arg::U32(cols as u32)];
    match v {
        Variant::Naive => {
            gpu.launch(MODULE, "softmax_forward_naive", &LaunchConfig::linear(rows as u32, NAIVE_BLOCK), &args)
        }
        Variant::Warp => gpu.launch(MODULE, "softmax_forward", &warp_per_row(rows), &args),
    }
}

/// `dx = y * (dy - rowsum(dy * y))`, from the forward output `y`.
pub fn backward(
    gpu: &Gpu,
    dx: &Buffer<f32>,
    y: &Buffer<f32>,
    dy: &Buffer<f32>,
    rows: usize,
    cols: usize,
) -> Result<()> {
    check("softmax backward", &[dx.len(), y.len(), dy.len()], rows, cols);
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)?;
    let args = [dx.arg(), y.arg(), dy.arg(), Arg::U32(rows as u32), Arg::U32(cols as u32)];
    gpu.launch(MODULE, "softmax_backward", &warp_per_row(rows), &args)
}

/// CPU reference of [`forward`], in f64.
pub fn reference_forward(x: &[f32], cols: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(cols) {
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        out.extend(row.iter().map(|&v| ((v as f64 - max).exp() / sum) as f32));
    }
    out
}

/// CPU reference of [`backward`], in f64.
pub fn reference_backward(y: &[f32], dy: &[f32], cols: usize) -> Vec<f32> {
    let mut dx = Vec::with_capacity(y.len());
    for (yr, dyr) in y.chunks(cols).zip(dy.chunks(cols)) {
        let dot: f64 = yr.iter().zip(dyr).map(|(&a, &b)| a as f64 * b as f64).sum();
        dx.extend(yr.iter().zip(dyr).map(|(&a, &b)| (a as f64 * (b as f64 - dot)) as f32));
    }
    dx
}
