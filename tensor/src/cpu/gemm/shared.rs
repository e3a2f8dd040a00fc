//! A packed block of one operand for one `(jc, pc)` pass, shared by all threads: each sliver is
//! packed by whichever thread needs it first, together with the next few of that thread's own
//! share. Both operands use it: B's `KC × NC` block (slivers `NR` wide) and A's rows of the pass
//! (slivers `MR` tall).
//!
//! Why not pack the whole block first, then compute: that needs a barrier between the two phases, so
//! every thread waits for the slowest packer (on a shared machine, one descheduled thread stalls all),
//! and each packed sliver has left L1 long before the kernel reads it. Packing on first use instead
//! puts the pack right before the FMAs that read the sliver, while it is still in cache, and a thread
//! that starts on slivers nobody else touches yet never waits. Threads that share slivers start at
//! different ones (see the driver), so two threads rarely want the same unpacked sliver at once.
//!
//! Why share A at all, when each tile could pack its own rows: tiles are cut along n as well as m
//! (see `Plan` in the driver), and tiles of the same rows would each pack them again. In the weight
//! gradients of a ViT (few rows, k in the thousands) that repacking cost 10–14% of the speed on a
//! 2-core Sapphire Rapids (sgemm bench, paired rounds against the `gemm` crate); shared, they run
//! within a few percent of a split by rows alone, which packs nothing twice.

use std::sync::atomic::{AtomicU8, Ordering};

use super::blocking::PackFn;
use super::pack::Strided;

/// Sliver states: nobody has claimed it, a thread is packing it, it is packed and read-only.
const FREE: u8 = 0;
const PACKING: u8 = 1;
const READY: u8 = 2;

/// Spins on work another thread is finishing (a sliver it packs, a tile of the previous pass) before
/// yielding the core: either takes microseconds, but that thread may have been descheduled.
const SPINS_BEFORE_YIELD: usize = 1 << 12;

/// The most one claim packs at once (see [`SharedPanels::sliver`]): a run this size is still in L2
/// when the kernel gets to its last sliver, on every target (512 KiB to 2 MiB of L2 per core). With
/// the AVX2 sizes that is 10 slivers of A or 28 of B.
const RUN_BYTES: usize = 256 << 10;

/// One pass's block of an operand: `rows × kcur`, as `ceil(rows / width)` slivers of `width × kcur`
/// at `buf`, each packed by `pack`.
pub(super) struct SharedPanels<'a> {
    width: usize,
    pack: PackFn,
    /// The block's element (0, 0): rows are the packed side (rows of A, or columns of B as rows of
    /// Bᵀ), columns run along k.
    src: Strided,
    rows: usize,
    kcur: usize,
    buf: *mut f32,
    state: &'a [AtomicU8],
}

// SAFETY: threads write disjoint slivers of `buf`, each claimed by exactly one thread through its
// atomic state, and read a sliver only after its READY store (release/acquire orders the writes).
unsafe impl Send for SharedPanels<'_> {}
unsafe impl Sync for SharedPanels<'_> {}

impl<'a> SharedPanels<'a> {
    /// A block packed into `buf`, with one entry of `state` per sliver, all unclaimed (as they are
    /// when made, and after [`SharedPanels::unclaim_all`]).
    ///
    /// # Safety
    /// `src` must be readable on `rows × kcur`; `buf` must hold `state.len() · width · kcur` floats
    /// and be used by nobody else while the block's slivers are taken. Blocks that share `buf` and
    /// `state` (the passes of one GEMM) must be used one after another, with `unclaim_all` between.
    pub unsafe fn new(
        width: usize,
        pack: PackFn,
        src: Strided,
        rows: usize,
        kcur: usize,
        buf: *mut f32,
        state: &'a [AtomicU8],
    ) -> SharedPanels<'a> {
        debug_assert_eq!(state.len(), rows.div_ceil(width));
        SharedPanels { width, pack, src, rows, kcur, buf, state }
    }

    /// Marks every sliver unclaimed, for the next block packed into the same buffer: the caller
    /// makes sure nobody reads the previous one any more.
    pub fn unclaim_all(state: &[AtomicU8]) {
        for s in state {
            s.store(FREE, Ordering::Relaxed);
        }
    }

    /// The depth of the block (the length of every sliver).
    pub fn depth(&self) -> usize {
        self.kcur
    }

    /// The packed sliver `s`, packing it first if no thread has claimed it yet.
    ///
    /// A thread that claims `s` also claims the free slivers after it, up to `run_end` (exclusive)
    /// or [`RUN_BYTES`], and packs them in the same call: the caller passes the end of the slivers
    /// it will read next and nobody else should (its own share, see the driver), or `s + 1`. Where
    /// the source has unit row stride, one call then reads each source row as a run of several
    /// cache lines rather than one line per sliver. That is the weight gradients' case, where
    /// each k step of both operands is another row of the activations. On a 2-core Zen 3 (AVX2;
    /// throwaway in-process harness, runs and single claims alternated, median of the per-round
    /// ratios), runs made the 8 weight gradients 1.0% faster on two threads (0.3–2.6% each), and
    /// the 27 target shapes of the sgemm bench 0.7% faster on two threads and 0.6% on one, none
    /// slower by more than the noise (1%).
    pub fn sliver(&self, s: usize, run_end: usize) -> *const f32 {
        let w = self.width;
        // SAFETY: s < slivers, so the sliver lies inside `buf` (see `new`).
        let out = unsafe { self.buf.add(s * w * self.kcur) };
        let state = &self.state[s];
        if state.load(Ordering::Acquire) == READY {
            return out;
        }
        let claim =
            |state: &AtomicU8| state.compare_exchange(FREE, PACKING, Ordering::Acquire, Ordering::Relaxed).is_ok();
        if claim(state) {
            // The run stops at the first sliver another thread has claimed.
            let longest = (RUN_BYTES / (w * self.kcur * size_of::<f32>())).max(1);
            let end = run_end.min(s + longest).min(self.state.len());
            let mut last = s + 1;
            while last < end && claim(&self.state[last]) {
                last += 1;
            }
            let rows = (last * w).min(self.rows) - s * w;
            // SAFETY: this thread alone claimed slivers s..last; their source rows lie inside `src`,
            // and they lie inside `buf`, one after the other (see `new`).
            unsafe { (self.pack)(self.src.at(s * w, 0), rows, self.kcur, out) };
            for state in &self.state[s..last] {
                state.store(READY, Ordering::Release);
            }
        } else {
            spin_until(|| state.load(Ordering::Acquire) == READY);
        }
        out
    }
}

/// Waits until `ready()`, for work another running thread is finishing: spins at first, then
/// yields the core, as that thread may have been descheduled (the machine may be shared).
pub(super) fn spin_until(mut ready: impl FnMut() -> bool) {
    let mut spins = 0;
    while !ready() {
        spins += 1;
        if spins < SPINS_BEFORE_YIELD {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU8, Ordering};

    use super::super::pack::{pack_scalar, Strided};
    use super::{SharedPanels, PACKING, READY};

    #[test]
    fn a_run_packs_what_single_claims_pack_and_stops_at_a_claimed_sliver() {
        // 4-wide slivers of a 22 × 9 column-major block (unit row stride, the layout runs are
        // for): 6 slivers, the last one 2 rows tall.
        const W: usize = 4;
        let (rows, kc) = (22, 9);
        let src: Vec<f32> = (0..rows * kc).map(|v| v as f32 + 0.5).collect();
        let view = Strided { ptr: src.as_ptr(), rs: 1, cs: rows };
        let slivers = rows.div_ceil(W);
        // SAFETY (of each use): `src` holds the whole block and `buf` every sliver.
        let panels = |buf: &mut Vec<f32>, state| unsafe {
            SharedPanels::new(W, pack_scalar::<W>, view, rows, kc, buf.as_mut_ptr(), state)
        };
        let states = || (0..slivers).map(|_| AtomicU8::default()).collect::<Vec<_>>();

        let (mut one_by_one, state) = (vec![f32::NAN; slivers * W * kc], states());
        let block = panels(&mut one_by_one, &state);
        for s in 0..slivers {
            block.sliver(s, s + 1);
        }

        let (mut in_runs, state) = (vec![f32::NAN; slivers * W * kc], states());
        let block = panels(&mut in_runs, &state);
        // Another thread has claimed sliver 2: a run from 0 packs 0 and 1 only.
        state[2].store(PACKING, Ordering::Relaxed);
        block.sliver(0, slivers);
        let after_first_run: Vec<u8> = state.iter().map(|s| s.load(Ordering::Relaxed)).collect();
        assert_eq!(after_first_run, [READY, READY, PACKING, 0, 0, 0]);
        state[2].store(0, Ordering::Relaxed);
        block.sliver(2, 3);
        // The run from 3 reaches the ragged last sliver, which must come out zero-padded.
        block.sliver(3, slivers);
        assert!(state.iter().all(|s| s.load(Ordering::Relaxed) == READY));
        assert_eq!(
            in_runs.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            one_by_one.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(one_by_one[5 * W * kc + 2], 0.0, "padding of the last sliver");
    }
}
