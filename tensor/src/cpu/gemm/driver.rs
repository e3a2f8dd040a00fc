//! The blocked loop nest around the micro-kernel (see the module doc of `gemm`) and its thread split.
//!
//! Threads: for each `(jc, pc)` pass the packed A and B blocks are shared; each sliver is packed by
//! the first thread that needs it (`shared.rs`), and the `m × NC` tile grid is cut into a few tiles
//! per thread that the threads claim one at a time (`Plan`), so an unequal or busy core ends up
//! doing less. All the passes of a call run in one parallel region (`Schedule`).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use rayon::prelude::*;

use super::blocking::{DirectBKernel, KernelSpec, MAX_TILE};
use super::pack::{AlignedBuf, Strided};
use super::shared::{spin_until, SharedPanels};
use super::{MatMut, MatRef};

/// Below this many multiply-adds (m·n·k) a GEMM stays on the calling thread: 2^21 MACs take ~10 µs on
/// one AVX-512 core, the same order as waking the pool and joining it.
const PAR_MIN_MACS: usize = 1 << 21;

/// Rows of A packed together in one pass at most: bounds the shared A buffer at `MAX_GROUP_ROWS · KC`
/// floats (12 MiB with the AVX-512 sizes) whatever m is. Taller products run in groups of rows, each
/// packing B again.
const MAX_GROUP_ROWS: usize = 4096;

/// Reading B in place pays off in deep passes, and where all of B is small enough to stay in L2.
/// In deep passes each of a sliver's `NR` source rows is a run of `kc` floats that the hardware
/// prefetchers can follow, where a packed sliver is one contiguous run. Measured on 2 threads
/// against the `gemm` crate (sgemm bench, paired rounds): in place won on small.fc1.dx and
/// small.fc2.fwd (kc 768: 0.98 and 1.00 against 0.87 and 0.91 of `gemm`'s speed) and small.qkv.dx
/// (kc 576), and lost on the kc = 384 forward products (qkv, fc1: 0.95 and 0.93 against 1.00 and
/// 1.02) and on N = 1024 (kc 512). On Zen 5, single-core, in place had won 12–16% on the two
/// kc = 768 products and tied elsewhere.
const DIRECT_B_MIN_KC: usize = 512;
/// A B of at most this many floats is read in place at any depth, whichever of its strides is 1:
/// nothing to prefetch from far away, and packing it would be a large share of a small product's
/// work. The per-head products of
/// ViT attention (196×196×32 and 196×32×196, `SGEMM_BENCH_ATTN=10 cargo bench --bench sgemm`) ran at
/// 0.85 and 0.67 of the `gemm` crate's speed with B packed, 0.93 and 0.94 with B in place.
const DIRECT_B_MAX_CACHED: usize = 1 << 16;

thread_local! {
    /// Packed blocks of the GEMMs this thread drives (kept between calls: no page faults per call).
    static A_BUF: RefCell<AlignedBuf> = RefCell::new(AlignedBuf::default());
    static B_BUF: RefCell<AlignedBuf> = RefCell::new(AlignedBuf::default());
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
    bias: Option<Bias>,
}

/// A vector added to C once the product is in: `C(i, j) += v[j]` as the caller sees C. After a
/// turn-around (see `Problem::new`) the same vector runs along the kernel's rows instead.
#[derive(Clone, Copy)]
struct Bias {
    ptr: *const f32,
    along_rows: bool,
}

// SAFETY: built from a slice borrowed for the whole GEMM call, and only read.
unsafe impl Send for Bias {}
unsafe impl Sync for Bias {}

impl Problem {
    /// Wraps checked, non-empty views (m, n, k > 0); `bias`, if any, holds one value per column of
    /// C, added after the product (with beta = 0).
    pub fn new(
        alpha: f32,
        a: &MatRef<f32>,
        b: &MatRef<f32>,
        beta: f32,
        c: MatMut<f32>,
        bias: Option<&[f32]>,
    ) -> Problem {
        debug_assert!(bias.is_none_or(|v| v.len() == c.cols && beta == 0.0));
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
            bias: bias.map(|v| Bias { ptr: v.as_ptr(), along_rows: false }),
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
            bias: self.bias.map(|v| Bias { along_rows: !v.along_rows, ..v }),
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
    let mg = even_block(p.m, MAX_GROUP_ROWS, spec.mr);
    let (mut abuf, mut bbuf) = (A_BUF.with(|b| b.take()), B_BUF.with(|b| b.take()));
    let (ap, bp) = (abuf.get(kc * mg.next_multiple_of(spec.mr)), bbuf.get(kc * nc.next_multiple_of(spec.nr)));
    let a_states: Vec<AtomicU8> = (0..mg.div_ceil(spec.mr)).map(|_| AtomicU8::default()).collect();
    let b_states: Vec<AtomicU8> = (0..nc.div_ceil(spec.nr)).map(|_| AtomicU8::default()).collect();
    // A B with unit stride along k is read in place where the kernel family can (full slivers
    // only: a ragged last sliver is still packed, zero-padded), in deep passes or when B is small
    // (see `DIRECT_B_MIN_KC`); a B with unit stride along n only when it is small.
    let cached = p.n.saturating_mul(p.k) <= DIRECT_B_MAX_CACHED;
    let direct_b = match (p.b.rs, p.b.cs) {
        (1, ldb) if kc > DIRECT_B_MIN_KC || cached => spec.kernel_direct_b.map(|kernel| (kernel, ldb)),
        // A B whose rows run along n only where it stays in cache: each k step reads NR floats
        // from another row, a pattern the prefetchers do not follow as well as long runs.
        (ldb, 1) if cached => spec.kernel_rows_b.map(|kernel| (kernel, ldb)),
        _ => None,
    };
    // Every pass of the call, in order: its tiles are task numbers `first..first + plan.tasks()`.
    let mut passes = Vec::new();
    let mut first = 0;
    for jc in (0..p.n).step_by(nc) {
        let ncur = nc.min(p.n - jc);
        let panels = ncur.div_ceil(spec.nr);
        for ig in (0..p.m).step_by(mg) {
            let mcur = mg.min(p.m - ig);
            let plan = Plan::new(threads, mcur, spec.mr, spec.mc, panels);
            for pc in (0..p.k).step_by(kc) {
                let kcur = kc.min(p.k - pc);
                // SAFETY: (ig, pc) is inside A and (jc, pc) inside Bᵀ; the buffers hold the blocks'
                // slivers, and the passes run one after another (see `Schedule`).
                let (a, b) = unsafe {
                    let a_slivers = &a_states[..mcur.div_ceil(spec.mr)];
                    let b_slivers = &b_states[..panels];
                    (
                        SharedPanels::new(spec.mr, spec.pack_a, p.a.at(ig, pc), mcur, kcur, ap, a_slivers),
                        SharedPanels::new(spec.nr, spec.pack_b, p.b.t().at(jc, pc), ncur, kcur, bp, b_slivers),
                    )
                };
                let beta = if pc == 0 { p.beta } else { 1.0 };
                passes.push(Pass {
                    spec,
                    p: &p,
                    ig,
                    group_rows: mcur,
                    pc,
                    jc,
                    ncur,
                    a,
                    b,
                    direct_b,
                    beta,
                    plan,
                    first,
                });
                first += plan.tasks();
            }
        }
    }
    let schedule = Schedule::new(first);
    // Each worker claims tiles until none are left, so a faster or less loaded core simply does
    // more of them (see `Plan`); a tile of the next pass waits until the last one of this pass is
    // done, as the next pass packs into the same buffers.
    let worker = |_| {
        let mut at = 0;
        while let Some(task) = schedule.claim() {
            while task >= passes[at].first + passes[at].plan.tasks() {
                at += 1;
            }
            let pass = &passes[at];
            schedule.wait_for_pass(at);
            let t = task - pass.first;
            // SAFETY: each tile is claimed by exactly one worker, and its pass is the open one.
            unsafe { pass.tile(t, threads) };
            schedule.tile_done(pass.plan.tasks(), || {
                // The last tile of the pass is done: nobody reads its packed slivers any more.
                SharedPanels::unclaim_all(&a_states);
                SharedPanels::unclaim_all(&b_states);
            });
        }
    };
    if threads == 1 {
        worker(0);
    } else {
        (0..threads).into_par_iter().for_each(worker);
    }
    A_BUF.with(|b| *b.borrow_mut() = abuf);
    B_BUF.with(|b| *b.borrow_mut() = bbuf);
}

/// One `(jc, pc)` pass over the rows of group `ig`: what every tile of it needs.
struct Pass<'a> {
    spec: &'static KernelSpec,
    p: &'a Problem,
    ig: usize,
    /// Rows in the group.
    group_rows: usize,
    pc: usize,
    jc: usize,
    ncur: usize,
    /// Rows `ig..` of A and columns `jc..` of B at depth `pc`, packed on first use.
    a: SharedPanels<'a>,
    b: SharedPanels<'a>,
    /// The kernel and row stride for B read in place, if it is.
    direct_b: Option<(DirectBKernel, usize)>,
    beta: f32,
    plan: Plan,
    /// The call-wide number of the pass's first tile.
    first: usize,
}

impl Pass<'_> {
    /// Tile `t` of the pass's plan: one row block of the group against a band of B slivers.
    ///
    /// Tiles that share slivers start at different ones: each packs its own share first and finds
    /// the rest packed by the others when it gets there. Tiles of one row block share its A
    /// slivers, tiles of one column band its B slivers; of `threads` parts of each, tile `t` starts
    /// at part `t % threads` of its A slivers and part `t / col_bands % threads` of its B slivers,
    /// wrapping around.
    ///
    /// # Safety
    /// Tile `t` is run by this thread alone, and no tile of another pass runs at the same time.
    unsafe fn tile(&self, t: usize, threads: usize) {
        let (spec, p, plan) = (self.spec, self.p, &self.plan);
        let ((r0, r1), slivers) = plan.task(t, self.group_rows, self.ncur.div_ceil(spec.nr));
        let count = slivers.1 - slivers.0;
        if r0 >= r1 || count == 0 {
            return;
        }
        let (a_part, b_part, parts) = (t % threads, t / plan.col_bands % threads, threads);
        let mc = plan.mc;
        let (b_first, b_end) = share(count, parts, b_part);
        let kcur = self.a.depth();
        for ic in (r0..r1).step_by(mc) {
            let mcur = mc.min(r1 - ic);
            let a_count = mcur.div_ceil(spec.mr);
            let (a_first, a_end) = share(a_count, parts, a_part);
            // Where this tile's own share of the row block's A slivers ends (runs, as for B below).
            let a_own_end = ic / spec.mr + a_end;
            for step in 0..count {
                let jp = slivers.0 + (b_first + step) % count;
                let j = self.jc + jp * spec.nr;
                let ncols = spec.nr.min(self.jc + self.ncur - j);
                // The tile's own share of slivers is packed in runs (see `SharedPanels::sliver`);
                // the rest, one by one, as the other threads may be on their way to them.
                let b_run_end = if b_first + step < b_end { slivers.0 + b_end } else { jp + 1 };
                let b_sliver = match self.direct_b {
                    Some((kernel, ldb)) if ncols == spec.nr => BSliver::Direct(kernel, p.b.at(self.pc, j).ptr, ldb),
                    _ => BSliver::Packed(self.b.sliver(jp, b_run_end)),
                };
                for ia in 0..a_count {
                    let i = ic + (a_first + ia) % a_count * spec.mr;
                    let nrows = spec.mr.min(ic + mcur - i);
                    let a_index = i / spec.mr;
                    let a_run_end = if a_first + ia < a_end { a_own_end } else { a_index + 1 };
                    let a_sliver = self.a.sliver(a_index, a_run_end);
                    let c = p.c.ptr.add((self.ig + i) * p.c.rs + j * p.c.cs);
                    if nrows == spec.mr && ncols == spec.nr && p.c.rs == 1 {
                        micro_tile(spec, kcur, a_sliver, b_sliver, p.alpha, self.beta, c, p.c.cs);
                    } else {
                        edge_tile(spec, kcur, a_sliver, b_sliver, p, self.beta, c, nrows, ncols);
                    }
                    // The bias goes in while the tile is still in L1, after the first pass over k.
                    if let (Some(bias), 0) = (p.bias, self.pc) {
                        add_bias(bias, (self.ig + i, j), c, (p.c.rs, p.c.cs), (nrows, ncols));
                    }
                }
            }
        }
    }
}

/// Where the kernel finds one sliver of B: packed, or in place for the given kernel (which knows
/// how B lies, `ldb` apart along the strided side).
#[derive(Clone, Copy)]
enum BSliver {
    Packed(*const f32),
    Direct(DirectBKernel, *const f32, usize),
}

/// One `MR × NR` tile by whichever kernel suits the sliver.
///
/// # Safety
/// As the kernels' contracts.
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
        BSliver::Direct(kernel, b, ldb) => kernel(kc, a, b, ldb, alpha, beta, c, ldc),
    }
}

/// A partial tile, or one in a C without a unit stride: compute the whole tile into a scratch tile,
/// then write back only the part that exists (a column at a time where C's columns are contiguous:
/// in small products such as attention's, with 99 or 197 rows, about half the tiles are partial).
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
    // The kernel writes all MR × NR values (beta = 0 reads none), so the scratch needs no zeroing.
    let mut tile = std::mem::MaybeUninit::<Tile>::uninit();
    let t = tile.as_mut_ptr() as *mut f32;
    micro_tile(spec, kcur, a, b, p.alpha, 0.0, t, spec.mr);
    for j in 0..ncols {
        let src = std::slice::from_raw_parts(t.add(j * spec.mr), nrows);
        if p.c.rs == 1 {
            let dst = std::slice::from_raw_parts_mut(c.add(j * p.c.cs), nrows);
            if beta == 0.0 {
                dst.copy_from_slice(src);
            } else {
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = v + beta * *d;
                }
            }
        } else {
            for (i, &v) in src.iter().enumerate() {
                let out = c.add(i * p.c.rs + j * p.c.cs);
                *out = if beta == 0.0 { v } else { v + beta * *out };
            }
        }
    }
}

/// Adds the bias to the `rows × cols` block of C at `c`, whose element (0, 0) is C(i0, j0).
///
/// # Safety
/// The block lies inside C and belongs to the calling tile; the bias covers C's rows (or columns).
#[inline]
unsafe fn add_bias(
    bias: Bias,
    (i0, j0): (usize, usize),
    c: *mut f32,
    (rs, cs): (usize, usize),
    (rows, cols): (usize, usize),
) {
    for j in 0..cols {
        let column = c.add(j * cs);
        if bias.along_rows {
            let v = std::slice::from_raw_parts(bias.ptr.add(i0), rows);
            for (i, &v) in v.iter().enumerate() {
                *column.add(i * rs) += v;
            }
        } else {
            let v = *bias.ptr.add(j0 + j);
            for i in 0..rows {
                *column.add(i * rs) += v;
            }
        }
    }
}

/// How the tile grid of one pass is cut into tiles that the workers claim one by one.
///
/// A tile is one `MC` block of rows against a band of B slivers. Rows are not cut finer than `MC`:
/// inside a tile each B sliver is loaded into L1 once and then serves every `MR` sliver of the row
/// block, so a thinner row band would pay the sliver's trip from L3 (or from memory, where B is read
/// in place) for only a few micro-tiles. Measured on a 2-core Sapphire Rapids against the `gemm`
/// crate (sgemm bench, paired rounds), cutting CAE-Small's qkv forward into 8 row bands of ~144 rows
/// ran at 0.92 of `gemm`'s speed, whole row blocks against column bands at 1.06.
///
/// Columns are cut into bands so that there are about `TILES_PER_THREAD` tiles per worker, rounded
/// to a multiple of the worker count. A static split (one rectangle per thread) leaves the faster
/// core idle at the end of every pass: on the 2-core machine this was written on, the same
/// single-thread GEMM ran at ~125 GFLOP/s on one core and ~145 on the other, and a shared machine
/// makes any core slow at times. Claiming tiles one at a time evens that out, up to the last tile
/// of each pass, while the other worker waits for it to open the next: the smaller the tiles, the
/// shorter that wait. Narrower bands cost little: each B sliver still serves every A sliver of its
/// row block.
#[derive(Clone, Copy)]
struct Plan {
    /// Rows per row block: a multiple of `MR`, at most `MC`.
    mc: usize,
    row_blocks: usize,
    col_bands: usize,
}

/// 16, not 4: in a CAE-Small training step on a 2-core AVX2 EPYC (perf samples of both workers),
/// each worker sat idle 5.8–6.1% of the time with 4, mostly while the other finished a GEMM pass's
/// last tile, and 3.4–4.8% with 16 (32 measured no lower). The sgemm bench at the step's 1584
/// tokens, paired against OpenBLAS over the 27 target shapes, went from a geometric mean of 0.99
/// and 0.97 to 1.05 and 1.01 (at the default 12608 tokens: 0.97 and 1.01 to 1.02 and 1.01).
const TILES_PER_THREAD: usize = 16;
/// Fewest B slivers in a column band: a packed A sliver read from L2 then serves at least 4·NR columns.
const MIN_BAND_SLIVERS: usize = 4;

impl Plan {
    /// The plan for `m` rows in slivers of `mr`, row blocks of at most `max_mc`, and `n_slivers` slivers.
    fn new(threads: usize, m: usize, mr: usize, max_mc: usize, n_slivers: usize) -> Plan {
        let mc = even_block(m, max_mc, mr);
        let row_blocks = m.div_ceil(mc);
        if threads == 1 {
            return Plan { mc, row_blocks: 1, col_bands: 1 };
        }
        let max_bands = (n_slivers / MIN_BAND_SLIVERS).max(1);
        let mut col_bands = (threads * TILES_PER_THREAD).div_ceil(row_blocks).min(max_bands);
        // With a tile count that is a multiple of the workers, the last round keeps them all busy:
        // round the bands up, or down where they would get narrower than the minimum.
        while !(row_blocks * col_bands).is_multiple_of(threads) && col_bands < max_bands {
            col_bands += 1;
        }
        while !(row_blocks * col_bands).is_multiple_of(threads) && col_bands > 1 {
            col_bands -= 1;
        }
        Plan { mc, row_blocks, col_bands }
    }

    fn tasks(&self) -> usize {
        self.row_blocks * self.col_bands
    }

    /// Rows and B slivers of tile `t`: row block major, so the workers start on the same A rows and
    /// different B slivers. A single-thread plan is one tile of everything.
    fn task(&self, t: usize, m: usize, n_slivers: usize) -> ((usize, usize), (usize, usize)) {
        if self.row_blocks == 1 && self.col_bands == 1 {
            return ((0, m), (0, n_slivers));
        }
        let i0 = t / self.col_bands * self.mc;
        ((i0, (i0 + self.mc).min(m)), share(n_slivers, self.col_bands, t % self.col_bands))
    }
}

/// The order in which the workers of one call run the tiles of all its passes: tiles are numbered
/// across the passes, claimed in that order, and a tile of the next pass starts only once the last
/// one of the current pass is done (it will pack into the same buffers).
///
/// Why one parallel region for the whole call rather than one per pass: handing each pass to the
/// pool and joining it costs a wake-up of the calling thread, which then hands the next pass to the
/// workers, and a weight gradient at batch 64 (k = 12608 rows of activations) has 33 passes. On a
/// 2-core Zen 3 (AVX2; throwaway harness, the two alternated in one process, median of per-round
/// ratios) one region ran the 8 weight gradients 0.4–0.8% faster in three runs, and single calls
/// after 3 ms of sleep (pool asleep) 0.6% faster over the squares and weight gradients, 512 by 2%.
/// Calls back to back at 1584 rows measured the same (1.001 over the 27 target shapes).
///
/// No worker ever waits for one that has not started: a worker waits only at the start of a pass,
/// for tiles that others have claimed and are running; if the pool runs the workers one after
/// another (all its threads busy elsewhere), the first does every tile.
struct Schedule {
    tiles: usize,
    next: AtomicUsize,
    /// The pass whose tiles may run: every earlier one is done.
    open: AtomicUsize,
    /// Tiles of the open pass that are done.
    done: AtomicUsize,
}

impl Schedule {
    fn new(tiles: usize) -> Schedule {
        Schedule { tiles, next: AtomicUsize::new(0), open: AtomicUsize::new(0), done: AtomicUsize::new(0) }
    }

    /// The next unclaimed tile, if any is left.
    fn claim(&self) -> Option<usize> {
        let t = self.next.fetch_add(1, Ordering::Relaxed);
        (t < self.tiles).then_some(t)
    }

    /// Returns once pass `pass` is open (the caller holds one of its tiles).
    fn wait_for_pass(&self, pass: usize) {
        spin_until(|| self.open.load(Ordering::Acquire) >= pass);
    }

    /// Counts a tile of the open pass, which has `tiles` of them, as done. The worker that finishes
    /// the last one calls `close` (with every tile's writes visible to it), then opens the next pass.
    fn tile_done(&self, tiles: usize, close: impl FnOnce()) {
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == tiles {
            self.done.store(0, Ordering::Relaxed);
            close();
            self.open.fetch_add(1, Ordering::Release);
        }
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
        let mr = 4;
        for threads in [1, 2, 3, 4, 7] {
            for m in [1, 3, 4, 5, 13, 50, 200, 801] {
                for n_slivers in [1, 2, 7, 128, 256] {
                    let max_mc = 8 * mr;
                    let plan = Plan::new(threads, m, mr, max_mc, n_slivers);
                    let mut hits = vec![0u8; m * n_slivers];
                    for t in 0..plan.tasks() {
                        let ((r0, r1), (s0, s1)) = plan.task(t, m, n_slivers);
                        assert!(r0 % mr == 0 && (threads == 1 || r1 - r0 <= max_mc), "rows {r0}..{r1}");
                        for r in r0..r1 {
                            for s in s0..s1 {
                                hits[r * n_slivers + s] += 1;
                            }
                        }
                    }
                    let case = format!("threads {threads}, m {m}, {n_slivers} slivers");
                    assert!(hits.iter().all(|&h| h == 1), "{case}");
                    if threads > 1 && n_slivers >= 4 * threads * 4 {
                        assert!(plan.tasks() >= 2 * threads, "{case}: too few tiles to balance: {}", plan.tasks());
                        assert!(plan.tasks().is_multiple_of(threads), "{case}: {} tiles", plan.tasks());
                    }
                }
            }
        }
    }
}
