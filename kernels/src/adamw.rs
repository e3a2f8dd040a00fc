//! Fused multi-tensor AdamW (PTX in `ptx/adamw.ptx`): one launch updates every tensor of a model,
//! reading a small device table of tensor descriptors, in place or into fresh buffers. Its arithmetic
//! is that of the CPU's fused pass (`tensor/src/cpu/adamw.rs`) operation for operation, so the two
//! devices agree bit for bit.

use crate::ptx::{self, Module};
use crate::{Arg, Buffer, Dim3, Gpu, LaunchConfig, Result};

const MODULE: &str = "adamw";
/// Threads per block.
const BLOCK: u32 = 256;
/// Blocks per tensor at most (the grid-stride loop covers longer tensors).
const MAX_BLOCKS_PER_TENSOR: u32 = 1024;
/// u64 words per tensor descriptor: param, grad, m, v, new param, new m, new v, length, decay factor.
const DESCRIPTOR_WORDS: usize = 9;

/// The AdamW module.
pub fn modules() -> Vec<Module> {
    vec![Module { name: MODULE.into(), ptx: include_str!("ptx/adamw.ptx").into() }]
}

/// One parameter tensor: what is read (all the same length) and where the update goes.
pub struct Tensor<'a> {
    pub param: &'a Buffer<f32>,
    pub grad: &'a Buffer<f32>,
    pub m: &'a Buffer<f32>,
    pub v: &'a Buffer<f32>,
    /// Where the new parameter, first and second moments are written: `param`, `m` and `v`
    /// themselves for an update in place, or fresh buffers to keep the inputs.
    pub new_param: &'a Buffer<f32>,
    pub new_m: &'a Buffer<f32>,
    pub new_v: &'a Buffer<f32>,
    /// Decoupled weight decay of this tensor (0 for biases and norms).
    pub weight_decay: f64,
}

impl<'a> Tensor<'a> {
    /// An update of `param`, `m` and `v` in place.
    pub fn in_place(
        param: &'a Buffer<f32>,
        grad: &'a Buffer<f32>,
        m: &'a Buffer<f32>,
        v: &'a Buffer<f32>,
        weight_decay: f64,
    ) -> Self {
        Tensor { param, grad, m, v, new_param: param, new_m: m, new_v: v, weight_decay }
    }
}

/// Hyper-parameters of one step, in f64 as the optimiser holds them.
#[derive(Clone, Copy, Debug)]
pub struct Hyper {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// 1-based step number, for the bias corrections.
    pub step: u64,
    /// Multiplies every gradient first (1 / accumulation steps, times a clipping factor).
    pub grad_scale: f64,
}

impl Hyper {
    /// The kernel's scalars (grad scale, β1, 1 − β1, β2, 1 − β2, 1 − β2^t, ε, lr / (1 − β1^t)), each
    /// computed in f64 and rounded to f32 once, as the CPU's fused pass rounds them.
    pub fn scalars(&self) -> [f32; 8] {
        let (bias1, bias2) = (1.0 - self.beta1.powi(self.step as i32), 1.0 - self.beta2.powi(self.step as i32));
        [self.grad_scale, self.beta1, 1.0 - self.beta1, self.beta2, 1.0 - self.beta2, bias2, self.eps, self.lr / bias1]
            .map(|x| x as f32)
    }

    /// The factor `1 − lr · weight_decay` that multiplies a parameter before the Adam step, in f32.
    pub fn decay(&self, weight_decay: f64) -> f32 {
        (1.0 - self.lr * weight_decay) as f32
    }
}

/// Updates every tensor with one launch.
pub fn step(gpu: &Gpu, tensors: &[Tensor], h: &Hyper) -> Result<()> {
    if tensors.is_empty() {
        return Ok(());
    }
    let mut table = Vec::with_capacity(tensors.len() * DESCRIPTOR_WORDS);
    let mut longest = 0;
    for t in tensors {
        let n = t.param.len();
        let lens = [t.grad.len(), t.m.len(), t.v.len(), t.new_param.len(), t.new_m.len(), t.new_v.len()];
        assert!(lens.iter().all(|&l| l == n), "adamw: buffers of one tensor differ in length");
        assert!(u32::try_from(n).is_ok(), "adamw: tensor of {n} elements exceeds u32 indexing");
        longest = longest.max(n);
        let (reads, writes) = ([t.param, t.grad, t.m, t.v], [t.new_param, t.new_m, t.new_v]);
        table.extend(reads.iter().chain(&writes).map(|b| b.ptr()));
        table.extend([n as u64, h.decay(t.weight_decay).to_bits() as u64]);
    }
    let table = gpu.upload(&table)?;
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)?;
    let blocks = (longest as u32).div_ceil(BLOCK).clamp(1, MAX_BLOCKS_PER_TENSOR);
    let cfg = LaunchConfig { grid: Dim3::new(blocks, tensors.len() as u32, 1), block: Dim3::x(BLOCK), shared_bytes: 0 };
    let mut args = vec![table.arg()];
    args.extend(h.scalars().map(Arg::F32));
    gpu.launch(MODULE, "adamw", &cfg, &args)
    // `table` is freed here: a caching allocator may hand it out again, but only to work queued after
    // this launch on the same stream; the CUDA backend's own free waits for the launch.
}

/// CPU reference of one tensor's update in f64, in place on (param, m, v).
pub fn reference(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], wd: f64, h: &Hyper) {
    let (b1, b2) = (h.beta1, h.beta2);
    let (bc1, bc2) = (1.0 / (1.0 - b1.powi(h.step as i32)), 1.0 / (1.0 - b2.powi(h.step as i32)));
    for i in 0..p.len() {
        let gi = g[i] as f64 * h.grad_scale;
        let mi = b1 * m[i] as f64 + (1.0 - b1) * gi;
        let vi = b2 * v[i] as f64 + (1.0 - b2) * gi * gi;
        let upd = mi * bc1 / ((vi * bc2).sqrt() + h.eps) + wd * p[i] as f64;
        p[i] = (p[i] as f64 - h.lr * upd) as f32;
        m[i] = mi as f32;
        v[i] = vi as f32;
    }
}
