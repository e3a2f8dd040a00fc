//! The blocked loop nest around the micro-kernel (see the module doc of `gemm`) and its thread split.
//!
//! Threads: for each `(jc, pc)` pass the packed B block is shared; each sliver is packed by the first
//! thread that needs it (`bblock.rs`), and the `m × NC` tile grid is cut into a few tiles per thread
//! that the threads claim one at a time (`Plan`), so an unequal or busy core ends up doing less.
//! Cutting along m is preferred: each tile then packs only its own rows of A and nothing is packed
//! twice. Cutting along n is used where m has too few slivers to go round.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use rayon::prelude::*;

use super::bblock::SharedB;
use super::blocking::{KernelSpec, MAX_TILE};
use super::pack::{AlignedBuf, Strided};
use super::{MatMut, MatRef};

/// Below this many multiply-adds (m·n·k) a GEMM stays on the calling thread: 2^21 MACs take ~10 µs on
/// one AVX-512 core, the same order as waking the pool and joining it twice per pass.
const PAR_MIN_MACS: usize = 1 << 21;

/// Reading B in place pays off only in deep passes: each of a sliver's `NR` source rows is then a
/// run of `kc` floats that the hardware prefetchers can follow, where a packed sliver is one
/// contiguous run. Measured on 2 threads against the `gemm` crate (sgemm bench, paired rounds): in
/// place won on small.fc1.dx and small.fc2.fwd (kc 768: 0.98 and 1.00 against 0.87 and 0.91 of
/// `gemm`'s speed) and small.qkv.dx (kc 576), and lost on the kc = 384 forward products (qkv, fc1:
/// 0.95 and 0.93 against 1.00 and 1.02) and on N = 1024 (kc 512). On Zen 5, single-core, in place
/// had won 12–16% on the two kc = 768 products and tied elsewhere.
const DIRECT_B_MIN_KC: usize = 512;

thread_local! {
    /// Packed-B block of the GEMMs this thread drives (kept between calls: no page faults per call).
    static B_BUF: RefCell<AlignedBuf> = RefCell::new(AlignedBuf::default());
    /// Packed-A block of the tasks this thread runs.
    static A_BUF: RefCell<AlignedBuf> = RefCell::new(AlignedBuf::default());
}

/// The output matrix as a raw pointer plus strides.
#[derive(Clone, Copy)]
struct StridedMut {
    ptr: *mut f32,
    rs: usize,
    cs: usize,
}

// SAFETY: built from the `&mut` slice of C, borrowed for the whole call; tasks write disjoint tiles
// (the views were checked for self-aliasing up front).
unsafe impl Send for StridedMut {}
unsafe impl Sync for StridedMut {}

/// One GEMM with all checks done, oriented so that the kernel's unit-stride side suits C.
pub(super) struct Problem {
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    beta: f32,
    a: Strided,
    b: Strided,
    c: StridedMut,
}

impl Problem {
    /// Wraps checked, non-empty views (m, n, k > 0).
    pub fn new(alpha: f32, a: &MatRef<f32>, b: &MatRef<f32>, beta: f32, c: MatMut<f32>) -> Problem {
        debug_assert!(c.rows > 0 && c.cols > 0 && a.cols > 0);
        // SAFETY: the views are non-empty and bounds-checked, so each offset is inside its slice.
        let (ap, bp, cp) = unsafe {
            (a.data.as_ptr().add(a.offset), b.data.as_ptr().add(b.offset), c.data.as_mut_ptr().add(c.offset))
        };
        let p = Problem {
            m: c.rows,
            n: c.cols,
            k: a.cols,
            alpha,
            beta,
            a: Strided { ptr: ap, rs: a.rs, cs: a.cs },
            b: Strided { ptr: bp, rs: b.rs, cs: b.cs },
            c: StridedMut { ptr: cp, rs: c.rs, cs: c.cs },
        };
        // The kernel stores columns of C with unit stride: if C's unit stride runs along its rows,
        // compute Cᵀ = Bᵀ·Aᵀ instead (same memory). When both strides are 1 (a single row or column),
        // pick the orientation with the longer vectorised side.
        let flip = match (p.c.rs == 1, p.c.cs == 1) {
            (true, true) => p.n > p.m,
            (rows_unit, cols_unit) => cols_unit && !rows_unit,
        };
        if flip {
            p.transposed()
        } else {
            p
        }
    }

    /// Rows of C as the kernel sees it (after any turn-around).
    pub fn rows(&self) -> usize {
        self.m
    }

    fn transposed(self) -> Problem {
        Problem {
            m: self.n,
            n: self.m,
            a: self.b.t(),
            b: self.a.t(),
            c: StridedMut { ptr: self.c.ptr, rs: self.c.cs, cs: self.c.rs },
            ..self
        }
    }
}

/// Runs the whole loop nest.
pub(super) fn run(spec: &'static KernelSpec, p: Problem, par: bool) {
    let macs = p.m.saturating_mul(p.n).saturating_mul(p.k);
    let threads = if par && macs >= PAR_MIN_MACS { rayon::current_num_threads().max(1) } else { 1 };
    let nc = even_block(p.n, spec.nc, spec.nr);
    let kc = even_block(p.k, spec.kc, 1);
    let mut bbuf = B_BUF.with(|b| b.take());
    let bp = bbuf.get(kc * nc.next_multiple_of(spec.nr));
    let states: Vec<AtomicU8> = (0..nc.div_ceil(spec.nr)).map(|_| AtomicU8::default()).collect();
    // A B with unit stride along k is read in place where the kernel family can (full slivers
    // only: a ragged last sliver is still packed, zero-padded), in passes deeper than
    // `DIRECT_B_MIN_KC` (see there).
    let direct_b = spec.kernel_direct_b.filter(|_| p.b.rs == 1 && kc > DIRECT_B_MIN_KC).map(|_| p.b.cs);
    for jc in (0..p.n).step_by(nc) {
        let ncur = nc.min(p.n - jc);
        let panels = ncur.div_ceil(spec.nr);
        for pc in (0..p.k).step_by(kc) {
            let kcur = kc.min(p.k - pc);
            let beta = if pc == 0 { p.beta } else { 1.0 };
            // SAFETY: (jc, pc) is inside Bᵀ (n × k); the buffer holds `panels` slivers of kc·NR floats
            // and the previous pass's readers have all returned (joined below).
            let shared = unsafe { SharedB::new(spec, p.b.t().at(jc, pc), kcur, ncur, bp, &states[..panels]) };
            let plan = Plan::new(threads, p.m.div_ceil(spec.mr), panels);
            let next = AtomicUsize::new(0);
            // Each worker claims tiles until none are left, so a faster or less loaded core simply
            // does more of them (see `Plan`).
            let worker = |_| loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                if t >= plan.tasks() {
                    break;
                }
                let (rows, slivers) = plan.task(t, spec.mr, p.m, panels);
                // Tiles of one row band start at different slivers: each packs its own share of B
                // first and finds the rest packed by the others when it gets there.
                let first = share(slivers.1 - slivers.0, plan.row_bands, t / plan.col_bands).0;
                // SAFETY: each tile is claimed by exactly one worker through `next`.
                unsafe { block_of_rows(spec, &p, pc, kcur, jc, ncur, rows, slivers, first, &shared, direct_b, beta) };
            };
            if threads == 1 {
                worker(0);
            } else {
                (0..threads).into_par_iter().for_each(worker);
            }
        }
    }
    B_BUF.with(|b| *b.borrow_mut() = bbuf);
}

/// One thread's rectangle: rows `rows` of C against B slivers `slivers` of the current NC block.
///
/// The slivers are visited from `first` on, wrapping around.
///
/// # Safety
/// `b` is the `kcur × ncur` block of B at (pc, jc); the rectangle is owned by this task alone.
#[allow(clippy::too_many_arguments)]
unsafe fn block_of_rows(
    spec: &KernelSpec,
    p: &Problem,
    pc: usize,
    kcur: usize,
    jc: usize,
    ncur: usize,
    rows: (usize, usize),
    slivers: (usize, usize),
    first: usize,
    b: &SharedB,
    direct_b: Option<usize>,
    beta: f32,
) {
    let (r0, r1) = rows;
    if r0 >= r1 || slivers.0 >= slivers.1 {
        return;
    }
    let mut abuf = A_BUF.with(|b| b.take());
    let mc = even_block(r1 - r0, spec.mc, spec.mr);
    let ap = abuf.get(mc * kcur);
    for ic in (r0..r1).step_by(mc) {
        let mcur = mc.min(r1 - ic);
        (spec.pack_a)(p.a.at(ic, pc), mcur, kcur, ap);
        let count = slivers.1 - slivers.0;
        for step in 0..count {
            let jp = slivers.0 + (first + step) % count;
            let j = jc + jp * spec.nr;
            let ncols = spec.nr.min(jc + ncur - j);
            let b_sliver = match direct_b {
                Some(ldb) if ncols == spec.nr => BSliver::Direct(p.b.at(pc, j).ptr, ldb),
                _ => BSliver::Packed(b.sliver(jp)),
            };
            for ip in 0..mcur.div_ceil(spec.mr) {
                let i = ic + ip * spec.mr;
                let nrows = spec.mr.min(ic + mcur - i);
                let a_sliver = ap.add(ip * spec.mr * kcur);
                let c = p.c.ptr.add(i * p.c.rs + j * p.c.cs);
                if nrows == spec.mr && ncols == spec.nr && p.c.rs == 1 {
                    micro_tile(spec, kcur, a_sliver, b_sliver, p.alpha, beta, c, p.c.cs);
                } else {
                    edge_tile(spec, kcur, a_sliver, b_sliver, p, beta, c, nrows, ncols);
                }
            }
        }
    }
    A_BUF.with(|b| *b.borrow_mut() = abuf);
}

/// Where the kernel finds one sliver of B: packed, or in place (B(k, j) at `ptr[j·ldb + k]`).
#[derive(Clone, Copy)]
enum BSliver {
    Packed(*const f32),
    Direct(*const f32, usize),
}

/// One `MR × NR` tile by whichever kernel suits the sliver.
///
/// # Safety
/// As the kernels' contracts; `Direct` slivers only come from a spec that has `kernel_direct_b`.
#[allow(clippy::too_many_arguments)]
unsafe fn micro_tile(
    spec: &KernelSpec,
    kc: usize,
    a: *const f32,
    b: BSliver,
    alpha: f32,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    match b {
        BSliver::Packed(b) => (spec.kernel)(kc, a, b, alpha, beta, c, ldc),
        BSliver::Direct(b, ldb) => {
            let kernel = spec.kernel_direct_b.expect("a direct B sliver needs a direct-B kernel");
            kernel(kc, a, b, ldb, alpha, beta, c, ldc)
        }
    }
}

/// A partial tile, or one in a C without a unit stride: compute the whole tile into a scratch tile,
/// then write back only the part that exists.
#[allow(clippy::too_many_arguments)]
unsafe fn edge_tile(
    spec: &KernelSpec,
    kcur: usize,
    a: *const f32,
    b: BSliver,
    p: &Problem,
    beta: f32,
    c: *mut f32,
    nrows: usize,
    ncols: usize,
) {
    #[repr(C, align(64))]
    struct Tile([f32; MAX_TILE]);
    let mut tile = Tile([0.0; MAX_TILE]);
    micro_tile(spec, kcur, a, b, p.alpha, 0.0, tile.0.as_mut_ptr(), spec.mr);
    for j in 0..ncols {
        for i in 0..nrows {
            let out = c.add(i * p.c.rs + j * p.c.cs);
            let v = tile.0[j * spec.mr + i];
            *out = if beta == 0.0 { v } else { v + beta * *out };
        }
    }
}

/// How the tile grid of one pass is cut into tiles that the workers claim one by one.
///
/// A static split (one rectangle per thread) leaves the faster core idle at the end of every pass:
/// on the 2-core machine this was written on, the same single-thread GEMM ran at ~125 GFLOP/s on one
/// core and ~145 on the other, and a shared machine makes any core slow at times. About
/// `TILES_PER_THREAD` tiles per worker let the claims even that out. Rows are cut first (each tile
/// packs only its own rows of A, and nothing is packed twice); columns only when there are too few
/// row slivers, and then into bands of at least `MIN_BAND_SLIVERS` so packing A stays cheap.
struct Plan {
    row_bands: usize,
    col_bands: usize,
    m_slivers: usize,
}

const TILES_PER_THREAD: usize = 4;
/// Fewest slivers in a band: a B sliver read from L3 then serves at least two micro-tiles, and an A
/// sliver packed for a tile serves at least 2·NR columns.
const MIN_BAND_SLIVERS: usize = 2;

impl Plan {
    fn new(threads: usize, m_slivers: usize, n_slivers: usize) -> Plan {
        if threads == 1 {
            return Plan { row_bands: 1, col_bands: 1, m_slivers };
        }
        let want = threads * TILES_PER_THREAD;
        let row_bands = want.min(m_slivers.div_ceil(MIN_BAND_SLIVERS)).max(1);
        let col_bands = want.div_ceil(row_bands).min(n_slivers.div_ceil(MIN_BAND_SLIVERS)).max(1);
        Plan { row_bands, col_bands, m_slivers }
    }

    fn tasks(&self) -> usize {
        self.row_bands * self.col_bands
    }

    /// Rows of C and slivers of the NC block of tile `t` (row band major).
    fn task(&self, t: usize, mr: usize, m: usize, n_slivers: usize) -> ((usize, usize), (usize, usize)) {
        let (i0, i1) = share(self.m_slivers, self.row_bands, t / self.col_bands);
        ((i0 * mr, (i1 * mr).min(m)), share(n_slivers, self.col_bands, t % self.col_bands))
    }
}

/// Part `t` of `count` items cut into `parts` nearly equal contiguous ranges.
fn share(count: usize, parts: usize, t: usize) -> (usize, usize) {
    (count * t / parts, count * (t + 1) / parts)
}

/// The block size that cuts `len` into equal blocks no larger than `max` (rounded up to a multiple
/// of `unit`), so no pass is left with a sliver-thin remainder.
fn even_block(len: usize, max: usize, unit: usize) -> usize {
    let blocks = len.div_ceil(max).max(1);
    len.div_ceil(blocks).next_multiple_of(unit).min(max.max(unit))
}

#[cfg(test)]
mod tests {
    use super::Plan;

    #[test]
    fn plan_tiles_cover_the_grid_exactly_once() {
        for threads in [1, 2, 3, 4, 7] {
            for m_slivers in [1, 2, 3, 5, 13, 50, 200] {
                for n_slivers in [1, 2, 7, 128, 256] {
                    let (mr, m) = (4, m_slivers * 4 - 1);
                    let plan = Plan::new(threads, m_slivers, n_slivers);
                    let mut hits = vec![0u8; m * n_slivers];
                    for t in 0..plan.tasks() {
                        let ((r0, r1), (s0, s1)) = plan.task(t, mr, m, n_slivers);
                        for r in r0..r1 {
                            for s in s0..s1 {
                                hits[r * n_slivers + s] += 1;
                            }
                        }
                    }
                    assert!(hits.iter().all(|&h| h == 1), "threads {threads}, grid {m_slivers}×{n_slivers}");
                    if threads > 1 && m_slivers * n_slivers >= 4 * threads * 4 {
                        assert!(plan.tasks() >= 2 * threads, "too few tiles to balance: {}", plan.tasks());
                    }
                }
            }
        }
    }
}
