//! Elementwise kernels (PTX in `ptx/elementwise.ptx`): GELU in its exact erf form, forward and backward,
//! and broadcasting add / mul.

use crate::ptx::{self, Module};
use crate::{Arg, Buffer, Dim3, Gpu, LaunchConfig, Result};

const MODULE: &str = "elementwise";
/// Threads per block of the grid-stride kernels.
const BLOCK: u32 = 256;
/// More blocks than this only add scheduling overhead: the grid-stride loop covers the rest.
const MAX_BLOCKS: u32 = 4096;

/// The elementwise module.
pub fn modules() -> Vec<Module> {
    vec![Module { name: MODULE.into(), ptx: include_str!("ptx/elementwise.ptx").into() }]
}

/// Launch shape of a grid-stride loop over `n` elements.
pub(crate) fn grid_stride(n: usize) -> LaunchConfig {
    let blocks = (n as u64).div_ceil(BLOCK as u64).clamp(1, MAX_BLOCKS as u64) as u32;
    LaunchConfig { grid: Dim3::x(blocks), block: Dim3::x(BLOCK), shared_bytes: 0 }
}

/// `n` as a kernel argument; the kernels index with 32 bits.
pub(crate) fn count(n: usize) -> Arg {
    Arg::U32(u32::try_from(n).expect("more than 2^32 elements in one launch"))
}

fn load(gpu: &Gpu) -> Result<()> {
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)
}

/// `out = gelu(x) = x * (1 + erf(x / sqrt 2)) / 2`.
pub fn gelu_forward(gpu: &Gpu, out: &Buffer<f32>, x: &Buffer<f32>) -> Result<()> {
    assert!(out.len() >= x.len(), "gelu: output shorter than input");
    load(gpu)?;
    gpu.launch(MODULE, "gelu_forward", &grid_stride(x.len()), &[out.arg(), x.arg(), count(x.len())])
}

/// `dx = dy * gelu'(x)`.
pub fn gelu_backward(gpu: &Gpu, dx: &Buffer<f32>, x: &Buffer<f32>, dy: &Buffer<f32>) -> Result<()> {
    assert!(dx.len() >= x.len() && dy.len() >= x.len(), "gelu backward: short buffers");
    load(gpu)?;
    gpu.launch(MODULE, "gelu_backward", &grid_stride(x.len()), &[dx.arg(), x.arg(), dy.arg(), count(x.len())])
}

/// How the second operand of a binary op is indexed: element `i` of `a` meets `b[(i / div) % len]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Broadcast {
    /// Elements of `b`.
    pub len: usize,
    /// Consecutive elements of `a` that share one element of `b`.
    pub div: usize,
}

impl Broadcast {
    /// `b` has the shape of `a`.
    pub fn same(n: usize) -> Self {
        Self { len: n, div: 1 }
    }
    /// `b` is a `[cols]` row repeated over every row of `a`.
    pub fn row(cols: usize) -> Self {
        Self { len: cols, div: 1 }
    }
    /// `b` is a `[rows]` column, one value per row of `a` (`cols` wide).
    pub fn col(rows: usize, cols: usize) -> Self {
        Self { len: rows, div: cols }
    }
    /// The index of `b` that element `i` of `a` meets.
    pub fn index(self, i: usize) -> usize {
        (i / self.div) % self.len
    }
}

/// Binary operations with a broadcast second operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Mul,
}

/// `out = a op b`, `b` broadcast as `bc` says.
pub fn binary(
    gpu: &Gpu,
    op: BinaryOp,
    out: &Buffer<f32>,
    a: &Buffer<f32>,
    b: &Buffer<f32>,
    bc: Broadcast,
) -> Result<()> {
    assert!(out.len() >= a.len() && b.len() >= bc.len && bc.len > 0 && bc.div > 0, "binary {op:?}: bad shapes");
    load(gpu)?;
    let kernel = match op {
        BinaryOp::Add => "add",
        BinaryOp::Mul => "mul",
    };
    let args = [out.arg(), a.arg(), b.arg(), count(a.len()), count(bc.len), count(bc.div)];
    gpu.launch(MODULE, kernel, &grid_stride(a.len()), &args)
}

/// The error function in f64 (series below 3, continued fraction above), for the references.
pub fn erf_f64(x: f64) -> f64 {
    let a = x.abs();
    let v = if a < 3.0 {
        // erf(a) = 2/sqrt(pi) * sum_n (-1)^n a^(2n+1) / (n! (2n+1)); converges fast for a < 3.
        let (mut term, mut sum, mut n) = (a, a, 0.0);
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -a * a / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc(a) = exp(-a^2) / sqrt(pi) / (a + (1/2) / (a + 1 / (a + (3/2) / (a + 2 / (a + ...))))).
        let f = (1..60).rev().fold(0.0, |f, k| (k as f64 / 2.0) / (a + f));
        let erfc = (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f);
        1.0 - erfc
    };
    v.copysign(x)
}

/// CPU reference of [`gelu_forward`].
pub fn reference_gelu(x: f32) -> f32 {
    let x = x as f64;
    (0.5 * x * (1.0 + erf_f64(x / std::f64::consts::SQRT_2))) as f32
}

/// CPU reference of GELU's derivative.
pub fn reference_gelu_grad(x: f32) -> f32 {
    let x = x as f64;
    let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (0.5 * (1.0 + erf_f64(x / std::f64::consts::SQRT_2)) + x * pdf) as f32
}

#[cfg(test)]
mod tests {
    use super::erf_f64;

    #[test]
    fn reference_erf_matches_tabulated_values() {
        let table = [
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (2.9, 0.9999589021219005),
            (3.5, 0.9999992569016276),
        ];
        for (x, want) in table {
            assert!((erf_f64(x) - want).abs() < 1e-13, "erf({x}) = {}", erf_f64(x));
            assert!((erf_f64(-x) + want).abs() < 1e-13, "erf is odd");
        }
    }
}
