//! Row gather and scatter by an index list (PTX in `ptx/gather.ptx`): CAE takes the visible patch rows
//! into the encoder and puts the masked ones back.

use crate::elementwise::{count, grid_stride};
use crate::ptx::{self, Module};
use crate::{Buffer, Gpu, Result};

const MODULE: &str = "gather";

/// The gather module.
pub fn modules() -> Vec<Module> {
    vec![Module { name: MODULE.into(), ptx: include_str!("ptx/gather.ptx").into() }]
}

fn launch(gpu: &Gpu, kernel: &str, dst: &Buffer<f32>, src: &Buffer<f32>, idx: &Buffer<u32>, cols: usize) -> Result<()> {
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)?;
    let args = [dst.arg(), src.arg(), idx.arg(), count(idx.len()), count(cols)];
    gpu.launch(MODULE, kernel, &grid_stride(idx.len() * cols), &args)
}

/// `dst[i, :] = src[idx[i], :]` for every `i` of `idx`; every index must be a row of `src`.
pub fn take_rows(gpu: &Gpu, dst: &Buffer<f32>, src: &Buffer<f32>, idx: &Buffer<u32>, cols: usize) -> Result<()> {
    assert!(dst.len() >= idx.len() * cols, "take_rows: dst needs {} rows of {cols}", idx.len());
    launch(gpu, "take_rows", dst, src, idx, cols)
}

/// `dst[idx[i], :] = src[i, :]`; indices must be distinct rows of `dst`, other rows are untouched.
pub fn put_rows(gpu: &Gpu, dst: &Buffer<f32>, src: &Buffer<f32>, idx: &Buffer<u32>, cols: usize) -> Result<()> {
    assert!(src.len() >= idx.len() * cols, "put_rows: src needs {} rows of {cols}", idx.len());
    launch(gpu, "put_rows", dst, src, idx, cols)
}

/// CPU reference of [`take_rows`].
pub fn reference_take(src: &[f32], idx: &[u32], cols: usize) -> Vec<f32> {
    idx.iter().flat_map(|&r| src[r as usize * cols..][..cols].iter().copied()).collect()
}

/// CPU reference of [`put_rows`], in place.
pub fn reference_put(dst: &mut [f32], src: &[f32], idx: &[u32], cols: usize) {
    for (i, &r) in idx.iter().enumerate() {
        dst[r as usize * cols..][..cols].copy_from_slice(&src[i * cols..][..cols]);
    }
}
