//! f32 <-> bf16 conversions (PTX in `ptx/cast.ptx`). bf16 values travel as their raw `u16` bits.

use crate::elementwise::{count, grid_stride};
use crate::ptx::{self, Module};
use crate::{Buffer, Gpu, Result};

const MODULE: &str = "cast";

/// The cast module.
pub fn modules() -> Vec<Module> {
    vec![Module { name: MODULE.into(), ptx: include_str!("ptx/cast.ptx").into() }]
}

/// `out = bf16(x)`, rounding to nearest, ties to even.
pub fn f32_to_bf16(gpu: &Gpu, out: &Buffer<u16>, x: &Buffer<f32>) -> Result<()> {
    assert!(out.len() >= x.len(), "f32_to_bf16: output shorter than input");
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)?;
    gpu.launch(MODULE, "f32_to_bf16", &grid_stride(x.len()), &[out.arg(), x.arg(), count(x.len())])
}

/// `out = f32(x)`, exact.
pub fn bf16_to_f32(gpu: &Gpu, out: &Buffer<f32>, x: &Buffer<u16>) -> Result<()> {
    assert!(out.len() >= x.len(), "bf16_to_f32: output shorter than input");
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)?;
    gpu.launch(MODULE, "bf16_to_f32", &grid_stride(x.len()), &[out.arg(), x.arg(), count(x.len())])
}

/// CPU reference of [`f32_to_bf16`]: round to nearest even on the bit pattern; NaN stays a (quiet) NaN.
pub fn reference_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x0040) as u16;
    }
    // Adding 0x7FFF plus the lowest kept bit rounds the dropped half up exactly when it is above one
    // half, or exactly one half with an odd kept part.
    ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) as u16
}

/// CPU reference of [`bf16_to_f32`].
pub fn reference_to_f32(x: u16) -> f32 {
    f32::from_bits((x as u32) << 16)
}
