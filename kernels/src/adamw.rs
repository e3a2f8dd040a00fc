//! Fused multi-tensor AdamW (PTX in `ptx/adamw.ptx`): one launch updates every tensor of a model,
//! reading a small device table of tensor descriptors.

use crate::ptx::{self, Module};
use crate::{Arg, Buffer, Dim3, Gpu, LaunchConfig, Result};

const MODULE: &str = "adamw";
/// Threads per block.
const BLOCK: u32 = 256;
/// Blocks per tensor at most (the grid-stride loop covers longer tensors).
const MAX_BLOCKS_PER_TENSOR: u32 = 1024;
/// u64 words per tensor descriptor: param, grad, m, v, length, weight decay.
const DESCRIPTOR_WORDS: usize = 6;

/// The AdamW module.
pub fn modules() -> Vec<Module> {
    vec![Module { name: MODULE.into(), ptx: include_str!("ptx/adamw.ptx").into() }]
}

/// One parameter tensor with its gradient and moment buffers (all the same length).
pub struct Tensor<'a> {
    pub param: &'a Buffer<f32>,
    pub grad: &'a Buffer<f32>,
    pub m: &'a Buffer<f32>,
    pub v: &'a Buffer<f32>,
    /// Decoupled weight decay of this tensor (0 for biases and norms).
    pub weight_decay: f32,
}

/// Hyper-parameters of one step.
#[derive(Clone, Copy, Debug)]
pub struct Hyper {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// 1-based step number, for the bias corrections.
    pub step: u32,
}

impl Hyper {
    /// Bias corrections `1 / (1 - beta^step)` of the first and second moments, computed in f64.
    pub fn corrections(&self) -> (f32, f32) {
        let c = |b: f32| (1.0 / (1.0 - (b as f64).powi(self.step as i32))) as f32;
        (c(self.beta1), c(self.beta2))
    }
}

/// Updates every tensor in place with one launch.
pub fn step(gpu: &Gpu, tensors: &[Tensor], h: &Hyper) -> Result<()> {
    if tensors.is_empty() {
        return Ok(());
    }
    let mut table = Vec::with_capacity(tensors.len() * DESCRIPTOR_WORDS);
    let mut longest = 0;
    for t in tensors {
        let n = t.param.len();
        assert!(t.grad.len() == n && t.m.len() == n && t.v.len() == n, "adamw: buffers of one tensor differ in length");
        assert!(u32::try_from(n).is_ok(), "adamw: tensor of {n} elements exceeds u32 indexing");
        longest = longest.max(n);
        table.extend([t.param.ptr(), t.grad.ptr(), t.m.ptr(), t.v.ptr(), n as u64, t.weight_decay.to_bits() as u64]);
    }
    let table = gpu.upload(&table)?;
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)?;
    let (bc1, bc2) = h.corrections();
    let blocks = (longest as u32).div_ceil(BLOCK).clamp(1, MAX_BLOCKS_PER_TENSOR);
    let cfg = LaunchConfig { grid: Dim3::new(blocks, tensors.len() as u32, 1), block: Dim3::x(BLOCK), shared_bytes: 0 };
    let args = [
        table.arg(),
        Arg::F32(h.lr),
        Arg::F32(h.beta1),
        Arg::F32(h.beta2),
        Arg::F32(h.eps),
        Arg::F32(bc1),
        Arg::F32(bc2),
    ];
    gpu.launch(MODULE, "adamw", &cfg, &args)
    // `table` is freed here; the CUDA backend waits for the launch before freeing.
}

/// CPU reference of one tensor's update in f64, in place on (param, m, v).
pub fn reference(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], wd: f32, h: &Hyper) {
    let (b1, b2) = (h.beta1 as f64, h.beta2 as f64);
    let (bc1, bc2) = (1.0 / (1.0 - b1.powi(h.step as i32)), 1.0 / (1.0 - b2.powi(h.step as i32)));
    for i in 0..p.len() {
        let gi = g[i] as f64;
        let mi = b1 * m[i] as f64 + (1.0 - b1) * gi;
        let vi = b2 * v[i] as f64 + (1.0 - b2) * gi * gi;
        let upd = mi * bc1 / ((vi * bc2).sqrt() + h.eps as f64) + wd as f64 * p[i] as f64;
        p[i] = (p[i] as f64 - h.lr as f64 * upd) as f32;
        m[i] = mi as f32;
        v[i] = vi as f32;
    }
}
