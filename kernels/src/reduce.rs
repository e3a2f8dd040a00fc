//! Sums of a `[rows, cols]` matrix along one axis (PTX in `ptx/reduce.ptx`): the bias gradients of
//! linear layers (sum over rows) and per-row totals (sum over columns).

use crate::elementwise::count;
use crate::ptx::{self, Module};
use crate::softmax::warp_per_row;
use crate::{Buffer, Gpu, LaunchConfig, Result};

const MODULE: &str = "reduce";
/// Threads per block of the column-per-thread kernel.
const COL_BLOCK: u32 = 128;

/// The reduction module.
pub fn modules() -> Vec<Module> {
    vec![Module { name: MODULE.into(), ptx: include_str!("ptx/reduce.ptx").into() }]
}

/// `out[c] = sum over r of x[r, c]` (`out` has `cols` elements).
pub fn sum_over_rows(gpu: &Gpu, out: &Buffer<f32>, x: &Buffer<f32>, rows: usize, cols: usize) -> Result<()> {
    assert!(out.len() >= cols && x.len() >= rows * cols, "sum_over_rows: short buffers");
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)?;
    let cfg = LaunchConfig::linear(cols as u32, COL_BLOCK);
    gpu.launch(MODULE, "sum_over_rows", &cfg, &[out.arg(), x.arg(), count(rows), count(cols)])
}

/// `out[r] = sum over c of x[r, c]` (`out` has `rows` elements).
pub fn sum_over_cols(gpu: &Gpu, out: &Buffer<f32>, x: &Buffer<f32>, rows: usize, cols: usize) -> Result<()> {
    assert!(out.len() >= rows && x.len() >= rows * cols, "sum_over_cols: short buffers");
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)?;
    gpu.launch(MODULE, "sum_over_cols", &warp_per_row(rows), &[out.arg(), x.arg(), count(rows), count(cols)])
}

/// CPU reference of both sums in f64: (over rows `[cols]`, over columns `[rows]`).
pub fn reference(x: &[f32], rows: usize, cols: usize) -> (Vec<f32>, Vec<f32>) {
    let over_rows = (0..cols).map(|c| (0..rows).map(|r| x[r * cols + c] as f64).sum::<f64>() as f32).collect();
    let over_cols = x.chunks(cols).take(rows).map(|row| row.iter().map(|&v| v as f64).sum::<f64>() as f32).collect();
    (over_rows, over_cols)
}
