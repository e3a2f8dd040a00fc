//! A packed block of one operand for one `(jc, pc)` pass, shared by all threads and packed sliver by
//! sliver by whichever thread needs a sliver first. Both operands use it: B's `KC × NC` block (slivers
//! `NR` wide) and A's rows of the pass (slivers `MR` tall).
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

/// Spins on a sliver another thread is packing before yielding the core: a sliver takes a few
/// microseconds to pack, but the packer may have been descheduled (the machine may be shared).
const SPINS_BEFORE_YIELD: usize = 1 << 12;

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
    /// A block with every sliver unpacked; `state` needs one entry per sliver.
    ///
    /// # Safety
    /// `src` must be readable on `rows × kcur`; `buf` must hold `state.len() · width · kcur` floats
    /// and be used by nobody else until the block is dropped.
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
        for s in state {
            s.store(FREE, Ordering::Relaxed);
        }
        SharedPanels { width, pack, src, rows, kcur, buf, state }
    }

    /// The depth of the block (the length of every sliver).
    pub fn depth(&self) -> usize {
        self.kcur
    }

    /// The packed sliver `s`, packing it first if no thread has claimed it yet.
    pub fn sliver(&self, s: usize) -> *const f32 {
        let w = self.width;
        // SAFETY: s < slivers, so the sliver lies inside `buf` (see `new`).
        let out = unsafe { self.buf.add(s * w * self.kcur) };
        let state = &self.state[s];
        if state.load(Ordering::Acquire) == READY {
            return out;
        }
        if state.compare_exchange(FREE, PACKING, Ordering::Acquire, Ordering::Acquire).is_ok() {
            let rows = w.min(self.rows - s * w);
            // SAFETY: this thread alone claimed sliver s; its source rows lie inside `src` (see `new`).
            unsafe { (self.pack)(self.src.at(s * w, 0), rows, self.kcur, out) };
            state.store(READY, Ordering::Release);
        } else {
            let mut spins = 0;
            while state.load(Ordering::Acquire) != READY {
                spins += 1;
                if spins < SPINS_BEFORE_YIELD {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
        out
    }
}
