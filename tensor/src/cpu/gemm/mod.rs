//! General matrix multiply, `C ← alpha·A·B + beta·C`, BLIS style.
//!
//! # The loop nest
//! A register-blocked *micro-kernel* computes one `MR × NR` tile of C from a packed sliver of A
//! (`MR × kc`, one column of `MR` values per k step) and a packed sliver of B (`kc × NR`, one row of
//! `NR` values per k step). Everything around it exists to keep the kernel fed from the nearest cache:
//!
//! ```text
//! for jc in (0..n).step_by(NC)          // B block columns: the packed B block lives in L3
//!   for pc in (0..k).step_by(KC)        // depth: fixes kc, the length of every sliver
//!     (B[pc.., jc..] → Bp: kc × NC as NR-wide slivers, packed on first use)
//!     (A[.., pc..] → Ap: m × kc as MR-tall slivers, packed on first use)
//!     for ic in (0..m).step_by(MC)      // A block: its slivers of Ap live in L2
//!       for jr in (0..NC).step_by(NR)   // one B sliver (kc × NR): stays in L1 for the whole ir loop
//!         for ir in (0..MC).step_by(MR) // one A sliver streams in from L2
//!           micro_kernel(Ap[ic+ir], Bp[jr]) → C[ic+ir.., jc+jr..]
//! ```
//! Threads cut the `(ic, jr)` loops into tiles (one MC block against a band of B slivers) and share
//! Ap and Bp, each sliver packed by the first thread that needs it (`driver.rs`, `shared.rs`).
//! The block sizes of each kernel are in `blocking.rs` with the reason for each.
//!
//! # Orientation
//! The kernels vectorise down a column of C (`MR` = a whole number of SIMD registers) and broadcast
//! along a row, so they want C column-major. A row-major C (the usual case in this project) is handled
//! by computing `Cᵀ = Bᵀ·Aᵀ` instead: the same memory, now column-major, and no data moves; only the
//! view strides swap. Packing absorbs every other stride (transposed and strided views cost nothing
//! extra beyond a transposing pack).
//!
//! # B read in place
//! When B's columns run along k with unit stride (the `X` of a linear layer's `X·Wᵀ`, once turned
//! around as above), packing B would be a register transpose of every value. The AVX-512 and AVX2
//! families have a second kernel that broadcasts B's values straight from their rows instead
//! (`kernel_in_place` with `BLayout::Columns`), so those products pack only A. A small B whose
//! rows run along n with unit stride (attention's probabilities in `dV = Pᵀ·dO`) is read in place
//! too (`BLayout::Rows`), as copying it would cost as much as the product.
//!
//! # Bias
//! `sgemm_bias` adds a vector along C's columns (a linear layer's bias) to each tile as soon as
//! its first pass over k has written it, while it is in L1.
//!
//! # Files
//! `blocking.rs` kernel shapes and block sizes; `driver.rs` the loop nest and the thread split;
//! `shared.rs` the packed blocks that all threads share, packed on first use in runs of slivers;
//! `pack.rs` packing; `kernel_*.rs` the micro-kernels (`kernel_avx2_asm.rs`: the AVX2 tile's k
//! loop in assembly, for packed B); `dgemm.rs` the f64 GEMM; `naive.rs` the reference triple loop;
//! `tests.rs` checks every kernel against it.

mod blocking;
mod dgemm;
mod driver;
mod kernel_avx2;
mod kernel_avx2_asm;
mod kernel_avx512;
mod kernel_portable;
mod naive;
mod pack;
mod shared;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use super::Float;

pub use dgemm::dgemm;
pub use naive::gemm_naive;

/// A read-only strided matrix view: element (i, j) is data[offset + i*rs + j*cs].
#[derive(Clone, Copy)]
pub struct MatRef<'a, T> {
    /// The buffer the view reads from; the GEMM checks that every element it addresses is inside.
    pub data: &'a [T],
    /// Index in `data` of element (0, 0).
    pub offset: usize,
    /// Number of rows (m for A, k for B).
    pub rows: usize,
    /// Number of columns (k for A, n for B).
    pub cols: usize,
    /// Row stride in elements (`cols` for a dense row-major matrix).
    pub rs: usize,
    /// Column stride in elements (1 for a dense row-major matrix).
    pub cs: usize,
}

/// A writable strided matrix view (same addressing).
pub struct MatMut<'a, T> {
    /// The buffer the view writes to.
    pub data: &'a mut [T],
    /// Index in `data` of element (0, 0).
    pub offset: usize,
    /// Number of rows (m).
    pub rows: usize,
    /// Number of columns (n).
    pub cols: usize,
    /// Row stride in elements; no two (i, j) may land on the same element (checked).
    pub rs: usize,
    /// Column stride in elements.
    pub cs: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A dense row-major `rows × cols` view of the start of `data`.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatRef { data, offset: 0, rows, cols, rs: cols, cs: 1 }
    }

    /// The transposed view (no data moves).
    pub fn t(self) -> Self {
        MatRef { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }
}

impl<'a, T> MatMut<'a, T> {
    /// A dense row-major `rows × cols` view of the start of `data`.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        MatMut { data, offset: 0, rows, cols, rs: cols, cs: 1 }
    }
}

/// Whether a GEMM may spread its work over the rayon thread pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parallelism {
    /// Run on the calling thread (for small GEMMs called from already-parallel code).
    None,
    /// Split the tiles of C over the rayon pool, for products of at least 2^21 multiply-adds
    /// (smaller ones still run on the calling thread).
    Rayon,
}

/// The micro-kernel family a GEMM runs on (one per SIMD level).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512F, 16 f32 per register; three tile shapes (32×12, 64×6, 16×20), picked per product.
    Avx512,
    /// AVX2 with FMA, 8 f32 per register (tiles of 16×6).
    Avx2Fma,
    /// Plain Rust that the compiler may auto-vectorise (tiles of 8×4); runs on any CPU.
    Portable,
}

impl Kernel {
    /// The fastest kernel this CPU supports (detected once, then cached).
    pub fn best() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| Kernel::available()[0])
    }

    /// Every kernel this CPU supports, fastest first (`Portable` is always last).
    pub fn available() -> Vec<Kernel> {
        [Kernel::Avx512, Kernel::Avx2Fma, Kernel::Portable].into_iter().filter(|k| k.is_supported()).collect()
    }

    /// A short lower-case name for logs and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512 => "avx512",
            Kernel::Avx2Fma => "avx2fma",
            Kernel::Portable => "portable",
        }
    }

    fn is_supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2Fma => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            Kernel::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// C ← alpha·A·B + beta·C. Panics with a clear message on inconsistent dimensions or views that go out of bounds.
pub fn sgemm(alpha: f32, a: MatRef<f32>, b: MatRef<f32>, beta: f32, c: MatMut<f32>, par: Parallelism) {
    sgemm_with(Kernel::best(), alpha, a, b, beta, c, par)
}

/// Same with a forced micro-kernel (tests and benches); panics if that kernel is unavailable on this CPU.
pub fn sgemm_with(
    kernel: Kernel,
    alpha: f32,
    a: MatRef<f32>,
    b: MatRef<f32>,
    beta: f32,
    c: MatMut<f32>,
    par: Parallelism,
) {
    assert!(kernel.is_supported(), "sgemm: kernel {} is not supported by this CPU", kernel.name());
    check_shapes("sgemm", &a, &b, &c);
    if c.rows == 0 || c.cols == 0 {
        return;
    }
    if a.cols == 0 || alpha == 0.0 {
        scale(beta, c);
        return;
    }
    let problem = driver::Problem::new(alpha, &a, &b, beta, c, None);
    driver::run(blocking::spec(kernel, problem.rows()), problem, par == Parallelism::Rayon);
}

/// C ← alpha·A·B + bias, with `bias[j]` added to every row's column j: a linear layer's output in
/// one pass over C. The bias is added to each tile of C while it is still in L1, right after the
/// tile's first pass over k; filling C with the bias beforehand and accumulating onto it (beta = 1)
/// costs an extra write and read of C through memory.
pub fn sgemm_bias(alpha: f32, a: MatRef<f32>, b: MatRef<f32>, bias: &[f32], c: MatMut<f32>, par: Parallelism) {
    sgemm_bias_with(Kernel::best(), alpha, a, b, bias, c, par)
}

/// Same with a forced micro-kernel (tests and benches); panics if that kernel is unavailable on this CPU.
pub fn sgemm_bias_with(
    kernel: Kernel,
    alpha: f32,
    a: MatRef<f32>,
    b: MatRef<f32>,
    bias: &[f32],
    c: MatMut<f32>,
    par: Parallelism,
) {
    assert!(kernel.is_supported(), "sgemm: kernel {} is not supported by this CPU", kernel.name());
    check_shapes("sgemm_bias", &a, &b, &c);
    assert_eq!(bias.len(), c.cols, "sgemm_bias: bias has {} values for {} columns of C", bias.len(), c.cols);
    if c.rows == 0 || c.cols == 0 {
        return;
    }
    if a.cols == 0 || alpha == 0.0 {
        for i in 0..c.rows {
            for (j, &v) in bias.iter().enumerate() {
                c.data[c.offset + i * c.rs + j * c.cs] = v;
            }
        }
        return;
    }
    let problem = driver::Problem::new(alpha, &a, &b, 0.0, c, Some(bias));
    driver::run(blocking::spec(kernel, problem.rows()), problem, par == Parallelism::Rayon);
}

/// C ← beta·C, where beta = 0 writes zeros without reading C (what a GEMM with k = 0 or alpha = 0 does).
pub(crate) fn scale<T: Float>(beta: T, c: MatMut<T>) {
    for i in 0..c.rows {
        for j in 0..c.cols {
            let x = &mut c.data[c.offset + i * c.rs + j * c.cs];
            *x = if beta == T::ZERO { T::ZERO } else { beta * *x };
        }
    }
}

/// Checks that the views agree on m, n, k, stay inside their slices, and that C does not alias itself
/// (two (i, j) on one element would make the result depend on the order of the writes).
pub(crate) fn check_shapes<T>(what: &str, a: &MatRef<T>, b: &MatRef<T>, c: &MatMut<T>) {
    assert!(
        a.rows == c.rows && b.cols == c.cols && a.cols == b.rows,
        "{what}: inconsistent dimensions: A is {}×{}, B is {}×{}, C is {}×{}",
        a.rows,
        a.cols,
        b.rows,
        b.cols,
        c.rows,
        c.cols
    );
    check_bounds(what, "A", a.data.len(), a.offset, a.rows, a.cols, a.rs, a.cs);
    check_bounds(what, "B", b.data.len(), b.offset, b.rows, b.cols, b.rs, b.cs);
    check_bounds(what, "C", c.data.len(), c.offset, c.rows, c.cols, c.rs, c.cs);
    assert!(
        elements_distinct(c.rows, c.cols, c.rs, c.cs),
        "{what}: C view ({}×{}, strides ({}, {})) maps several elements to one place",
        c.rows,
        c.cols,
        c.rs,
        c.cs
    );
}

/// A sufficient condition for a view's elements to be distinct: the inner dimension fits between two
/// steps of the outer one. Every dense, transposed or sub-block view passes.
fn elements_distinct(rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    match (rows > 1, cols > 1) {
        (false, false) => true,
        (true, false) => rs >= 1,
        (false, true) => cs >= 1,
        (true, true) => {
            let ((s_in, n_in), s_out) = if rs <= cs { ((rs, rows), cs) } else { ((cs, cols), rs) };
            s_in >= 1 && s_in.saturating_mul(n_in) <= s_out
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_bounds(what: &str, name: &str, len: usize, offset: usize, rows: usize, cols: usize, rs: usize, cs: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)))
        .and_then(|x| x.checked_add(offset));
    assert!(
        matches!(last, Some(l) if l < len),
        "{what}: {name} view ({rows}×{cols}, offset {offset}, strides ({rs}, {cs})) reaches past its slice of length {len}"
    );
}
