//! LayerNorm over the last axis of a `[rows, cols]` matrix: forward saving mean and rstd, backward for
//! dx, dweight and dbias (PTX in `ptx/layernorm.ptx`).

use crate::ptx::{self, Module};
use crate::softmax::warp_per_row;
use crate::{reduce, Arg, Buffer, Dim3, Gpu, LaunchConfig, Result};

const MODULE: &str = "layernorm";
/// Threads per block of the column-wise dweight/dbias kernel.
const COL_BLOCK: u32 = 128;
/// Rows summed by one thread of the dweight/dbias kernel before the chunks are summed: enough work per
/// thread to hide latency, enough chunks to fill the GPU (12608 rows of ViT-B at batch 64: 197 chunks).
const ROWS_PER_CHUNK: usize = 64;

/// The layernorm module.
pub fn modules() -> Vec<Module> {
    vec![Module { name: MODULE.into(), ptx: include_str!("ptx/layernorm.ptx").into() }]
}

fn load(gpu: &Gpu) -> Result<()> {
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)
}

fn dims(rows: usize, cols: usize) -> [Arg; 2] {
    [Arg::U32(rows as u32), Arg::U32(cols as u32)]
}

/// Device buffers of one layernorm: input, affine parameters, saved statistics.
pub struct Saved<'a> {
    /// `[rows, cols]` input.
    pub x: &'a Buffer<f32>,
    /// `[cols]` scale.
    pub w: &'a Buffer<f32>,
    /// `[rows]` mean from the forward.
    pub mean: &'a Buffer<f32>,
    /// `[rows]` 1 / sqrt(var + eps) from the forward.
    pub rstd: &'a Buffer<f32>,
}

/// `out = (x - mean) / sqrt(var + eps) * w + b`, saving `mean` and `rstd` per row.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    gpu: &Gpu,
    out: &Buffer<f32>,
    mean: &Buffer<f32>,
    rstd: &Buffer<f32>,
    x: &Buffer<f32>,
    w: &Buffer<f32>,
    b: &Buffer<f32>,
    cols: usize,
    eps: f32,
) -> Result<()> {
    let rows = x.len() / cols.max(1);
    assert!(out.len() >= rows * cols && mean.len() >= rows && rstd.len() >= rows, "layernorm: short outputs");
    assert!(w.len() >= cols && b.len() >= cols, "layernorm: w and b need {cols} elements");
    load(gpu)?;
    let [r, c] = dims(rows, cols);
    let args = [out.arg(), mean.arg(), rstd.arg(), x.arg(), w.arg(), b.arg(), r, c, Arg::F32(eps)];
    gpu.launch(MODULE, "layernorm_forward", &warp_per_row(rows), &args)
}

/// Backward: writes `dx` (`[rows, cols]`), `dw` and `db` (`[cols]`, sums over rows) from `dy`.
pub fn backward(
    gpu: &Gpu,
    dx: &Buffer<f32>,
    dw: &Buffer<f32>,
    db: &Buffer<f32>,
    dy: &Buffer<f32>,
    s: &Saved,
    cols: usize,
) -> Result<()> {
    let rows = s.x.len() / cols.max(1);
    assert!(dx.len() >= rows * cols && dy.len() >= rows * cols, "layernorm backward: short dx or dy");
    assert!(dw.len() >= cols && db.len() >= cols && s.mean.len() >= rows, "layernorm backward: short buffers");
    load(gpu)?;
    let [r, c] = dims(rows, cols);
    let args = [dx.arg(), dy.arg(), s.x.arg(), s.w.arg(), s.mean.arg(), s.rstd.arg(), r, c];
    gpu.launch(MODULE, "layernorm_backward_dx", &warp_per_row(rows), &args)?;
    let chunks = rows.div_ceil(ROWS_PER_CHUNK).max(1);
    let grid = Dim3::new((cols as u32).div_ceil(COL_BLOCK).max(1), chunks as u32, 1);
    let cfg = LaunchConfig { grid, block: Dim3::x(COL_BLOCK), shared_bytes: 0 };
    let chunk = Arg::U32(ROWS_PER_CHUNK as u32);
    if chunks == 1 {
        let args = [dw.arg(), db.arg(), dy.arg(), s.x.arg(), s.mean.arg(), s.rstd.arg(), r, c, chunk];
        return gpu.launch(MODULE, "layernorm_backward_dwdb", &cfg, &args);
    }
    let (dw_part, db_part) = (gpu.alloc::<f32>(chunks * cols)?, gpu.alloc::<f32>(chunks * cols)?);
    let args = [dw_part.arg(), db_part.arg(), dy.arg(), s.x.arg(), s.mean.arg(), s.rstd.arg(), r, c, chunk];
    gpu.launch(MODULE, "layernorm_backward_dwdb", &cfg, &args)?;
    reduce::sum_over_rows(gpu, dw, &dw_part, chunks, cols)?;
    reduce::sum_over_rows(gpu, db, &db_part, chunks, cols)
}

/// CPU reference of [`forward`] in f64: (out, mean, rstd).
pub fn reference_forward(x: &[f32], w: &[f32], b: &[f32], cols: usize, eps: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (mut out, mut means, mut rstds) = (Vec::new(), Vec::new(), Vec::new());
    for row in x.chunks(cols) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / cols as f64;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / cols as f64;
        let rstd = 1.0 / (var + eps as f64).sqrt();
        out.extend(row.iter().enumerate().map(|(c, &v)| ((v as f64 - mean) * rstd * w[c] as f64 + b[c] as f64) as f32));
        means.push(mean as f32);
        rstds.push(rstd as f32);
    }
    (out, means, rstds)
}

/// CPU reference of [`backward`] in f64: (dx, dw, db), from the saved statistics.
pub fn reference_backward(
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    mean: &[f32],
    rstd: &[f32],
    cols: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (mut dx, mut dw, mut db) = (Vec::new(), vec![0f64; cols], vec![0f64; cols]);
    for (r, (xr, dyr)) in x.chunks(cols).zip(dy.chunks(cols)).enumerate() {
        let (m, s) = (mean[r] as f64, rstd[r] as f64);
        let xhat: Vec<f64> = xr.iter().map(|&v| (v as f64 - m) * s).collect();
        let g: Vec<f64> = dyr.iter().zip(w).map(|(&d, &w)| d as f64 * w as f64).collect();
        let mean_g = g.iter().sum::<f64>() / cols as f64;
        let mean_gx = g.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / cols as f64;
        dx.extend((0..cols).map(|c| (s * (g[c] - mean_g - xhat[c] * mean_gx)) as f32));
        for c in 0..cols {
            dw[c] += dyr[c] as f64 * xhat[c];
            db[c] += dyr[c] as f64;
        }
    }
    (dx, dw.into_iter().map(|v| v as f32).collect(), db.into_iter().map(|v| v as f32).collect())
}
