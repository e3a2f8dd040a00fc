//! GEMM, f32: `C = alpha * op(A) * op(B) + beta * C`, batched, row-major, any of A/B transposed.
//!
//! Numbered variants, each teaching one idea (see the PTX headers):
//! 1. [`Variant::Naive`]: one thread per element of C, straight from global memory.
//! 2. [`Variant::Tiled`]: shared-memory tiles, each global element loaded once per block.
//! 3. [`Variant::RegBlocked`]: each thread computes a small tile of C in registers.
//!
//! All share one parameter list, so [`gemm`] dispatches on the variant only. [`reference()`] is the CPU
//! reference, accumulating in f64.

use crate::ptx::{self, gemm_regblock::Tiles, Module};
use crate::{Arg, Buffer, Dim3, Gpu, LaunchConfig, Result};

/// Block side of the naive variant (16 x 16 threads).
const NAIVE_BLOCK: u32 = 16;

/// The register-blocked variants generated: a small one for small matrices and the big one.
pub const REGBLOCK_TILES: [Tiles; 2] =
    [Tiles { bm: 64, bn: 64, bk: 8, tm: 4, tn: 4 }, Tiles { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 }];

/// Tile sides of the shared-memory variant that are generated.
pub const TILED_SIDES: [u32; 2] = [16, 32];

/// Which kernel computes the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// 1: one thread per output element.
    Naive,
    /// 2: shared-memory tiles of the given side (one of [`TILED_SIDES`]).
    Tiled(u32),
    /// 3: register-blocked, tiles one of [`REGBLOCK_TILES`].
    RegBlocked(Tiles),
}

impl Variant {
    /// Every variant that is generated, in teaching order.
    pub fn all() -> Vec<Variant> {
        let mut v = vec![Variant::Naive];
        v.extend(TILED_SIDES.iter().map(|&t| Variant::Tiled(t)));
        v.extend(REGBLOCK_TILES.iter().map(|&t| Variant::RegBlocked(t)));
        v
    }

    /// The module name the variant is loaded under.
    pub fn module_name(self) -> String {
        match self {
            Variant::Naive => "gemm_1_naive".into(),
            Variant::Tiled(t) => format!("gemm_2_tiled_{t}"),
            Variant::RegBlocked(t) => format!("gemm_3_regblock_{}x{}x{}_{}x{}", t.bm, t.bn, t.bk, t.tm, t.tn),
        }
    }

    fn ptx(self) -> String {
        match self {
            Variant::Naive => include_str!("ptx/gemm_naive.ptx").to_string(),
            Variant::Tiled(t) => ptx::gemm_tiled::ptx(t),
            Variant::RegBlocked(t) => ptx::gemm_regblock::ptx(t),
        }
    }

    fn config(self, m: u32, n: u32, batch: u32) -> LaunchConfig {
        let (bm, bn, block) = match self {
            Variant::Naive => (NAIVE_BLOCK, NAIVE_BLOCK, Dim3::new(NAIVE_BLOCK, NAIVE_BLOCK, 1)),
            Variant::Tiled(t) => (t, t, Dim3::new(t, t, 1)),
            Variant::RegBlocked(t) => (t.bm, t.bn, Dim3::x(t.threads())),
        };
        LaunchConfig { grid: Dim3::new(n.div_ceil(bn), m.div_ceil(bm), batch), block, shared_bytes: 0 }
    }
}

/// Every GEMM module.
pub fn modules() -> Vec<Module> {
    Variant::all().into_iter().map(|v| Module { name: v.module_name(), ptx: v.ptx() }).collect()
}

/// Shape and layout of a (batched) product. Matrices are row-major with leading dimensions `ld*`;
/// `trans_a` means the buffer holds A^T (K x M, leading dimension `lda`), likewise `trans_b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub lda: usize,
    pub ldb: usize,
    pub ldc: usize,
    /// Number of products, each matrix `stride_*` elements after the previous one.
    pub batch: usize,
    pub stride_a: usize,
    pub stride_b: usize,
    pub stride_c: usize,
    pub alpha: f32,
    pub beta: f32,
}

impl Shape {
    /// A single dense product (alpha 1, beta 0) with tight leading dimensions.
    pub fn new(m: usize, n: usize, k: usize, trans_a: bool, trans_b: bool) -> Self {
        let lda = if trans_a { m } else { k };
        let ldb = if trans_b { k } else { n };
        Self {
            m,
            n,
            k,
            trans_a,
            trans_b,
            lda,
            ldb,
            ldc: n,
            batch: 1,
            stride_a: m * k,
            stride_b: k * n,
            stride_c: m * n,
            alpha: 1.0,
            beta: 0.0,
        }
    }

    /// The same product repeated over `batch` tightly packed matrices.
    pub fn batched(self, batch: usize) -> Self {
        Self { batch, ..self }
    }

    /// (row stride, column stride) of op(A) and op(B) in elements: transposition is a choice of strides.
    fn strides(&self) -> [usize; 4] {
        let (a_rs, a_cs) = if self.trans_a { (1, self.lda) } else { (self.lda, 1) };
        let (b_rs, b_cs) = if self.trans_b { (1, self.ldb) } else { (self.ldb, 1) };
        [a_rs, a_cs, b_rs, b_cs]
    }

    /// Elements each operand must hold.
    pub fn lens(&self) -> [usize; 3] {
        let [a_rs, a_cs, b_rs, b_cs] = self.strides();
        let last = |rows: usize, cols: usize, rs: usize, cs: usize| {
            if rows == 0 || cols == 0 {
                0
            } else {
                (rows - 1) * rs + (cols - 1) * cs + 1
            }
        };
        let b = self.batch.saturating_sub(1);
        [
            b * self.stride_a + last(self.m, self.k, a_rs, a_cs),
            b * self.stride_b + last(self.k, self.n, b_rs, b_cs),
            b * self.stride_c + last(self.m, self.n, self.ldc, 1),
        ]
    }
}

/// Runs variant `v` on the device: `c = alpha * op(a) * op(b) + beta * c` for every batch entry.
pub fn gemm(gpu: &Gpu, v: Variant, s: &Shape, a: &Buffer<f32>, b: &Buffer<f32>, c: &Buffer<f32>) -> Result<()> {
    let [la, lb, lc] = s.lens();
    assert!(a.len() >= la && b.len() >= lb && c.len() >= lc, "gemm {s:?}: buffers smaller than the shape");
    if s.m == 0 || s.n == 0 || s.batch == 0 {
        return Ok(());
    }
    let name = v.module_name();
    ptx::load(gpu, &name, || v.ptx())?;
    let [a_rs, a_cs, b_rs, b_cs] = s.strides();
    let u = |x: usize| Arg::U32(u32::try_from(x).expect("gemm dimension exceeds u32"));
    let args = [
        a.arg(),
        b.arg(),
        c.arg(),
        u(s.m),
        u(s.n),
        u(s.k),
        u(a_rs),
        u(a_cs),
        u(b_rs),
        u(b_cs),
        u(s.ldc),
        Arg::U64(s.stride_a as u64),
        Arg::U64(s.stride_b as u64),
        Arg::U64(s.stride_c as u64),
        Arg::F32(s.alpha),
        Arg::F32(s.beta),
    ];
    gpu.launch(&name, "gemm", &v.config(s.m as u32, s.n as u32, s.batch as u32), &args)
}

/// CPU reference, accumulating in f64; `c` is updated in place like the kernels do.
pub fn reference(s: &Shape, a: &[f32], b: &[f32], c: &mut [f32]) {
    let [a_rs, a_cs, b_rs, b_cs] = s.strides();
    for z in 0..s.batch {
        let (a, b) = (&a[z * s.stride_a..], &b[z * s.stride_b..]);
        for i in 0..s.m {
            for j in 0..s.n {
                let dot: f64 = (0..s.k).map(|p| a[i * a_rs + p * a_cs] as f64 * b[p * b_rs + j * b_cs] as f64).sum();
                let out = &mut c[z * s.stride_c + i * s.ldc + j];
                let old = if s.beta != 0.0 { s.beta as f64 * *out as f64 } else { 0.0 };
                *out = (s.alpha as f64 * dot + old) as f32;
            }
        }
    }
}
