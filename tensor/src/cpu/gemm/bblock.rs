//! The packed B block of one `(jc, pc)` pass, shared by all threads and packed sliver by sliver by
//! whichever thread needs a sliver first.
//!
//! Why not pack the whole block first, then compute: that needs a barrier between the two phases, so
//! every thread waits for the slowest packer (on a shared machine, one descheduled thread stalls all),
//! and each packed sliver has left L1 long before the kernel reads it. Packing on first use instead
//! puts the pack right before the FMAs that read the sliver, while it is still in L1, and a thread
//! that starts on slivers nobody else touches yet never waits. Each thread starts at its own share of
//! the slivers (see the driver), so two threads rarely want the same unpacked sliver at once.

use std::sync::atomic::{AtomicU8, Ordering};

use super::blocking::KernelSpec;
use super::pack::Strided;

/// Sliver states: nobody has claimed it, a thread is packing it, it is packed and read-only.
const FREE: u8 = 0;
const PACKING: u8 = 1;
const READY: u8 = 2;

/// Spins on a sliver another thread is packing before yielding the core: a sliver takes a few
/// microseconds to pack, but the packer may have been descheduled (the machine may be shared).
const SPINS_BEFORE_YIELD: usize = 1 << 12;

/// One pass's B block: `kcur × ncur` of B, as `ceil(ncur / NR)` slivers of `kcur × NR` at `buf`.
pub(super) struct SharedB<'a> {
    spec: &'static KernelSpec,
    /// Bᵀ at (jc, pc): row r of it is column jc + r of B.
    src: Strided,
    kcur: usize,
    ncur: usize,
    buf: *mut f32,
    state: &'a [AtomicU8],
}

// SAFETY: threads write disjoint slivers of `buf`, each claimed by exactly one thread through its
// atomic state, and read a sliver only after its READY store (release/acquire orders the writes).
unsafe impl Send for SharedB<'_> {}
unsafe impl Sync for SharedB<'_> {}

impl<'a> SharedB<'a> {
    /// A block with every sliver unpacked; `state` needs one entry per sliver.
    ///
    /// # Safety
    /// `src` must be readable on `ncur × kcur`; `buf` must hold `state.len() · NR · kcur` floats and be
    /// used by nobody else until the block is dropped.
    pub unsafe fn new(
        spec: &'static KernelSpec,
        src: Strided,
        kcur: usize,
        ncur: usize,
        buf: *mut f32,
        state: &'a [AtomicU8],
    ) -> SharedB<'a> {
        debug_assert_eq!(state.len(), ncur.div_ceil(spec.nr));
        for s in state {
            s.store(FREE, Ordering::Relaxed);
        }
        SharedB { spec, src, kcur, ncur, buf, state }
    }

    /// The packed sliver `s`, packing it first if no thread has claimed it yet.
    pub fn sliver(&self, s: usize) -> *const f32 {
        let nr = self.spec.nr;
        // SAFETY: s < slivers, so the sliver lies inside `buf` (see `new`).
        let out = unsafe { self.buf.add(s * nr * self.kcur) };
        let state = &self.state[s];
        if state.load(Ordering::Acquire) == READY {
            return out;
        }
        if state.compare_exchange(FREE, PACKING, Ordering::Acquire, Ordering::Acquire).is_ok() {
            let rows = nr.min(self.ncur - s * nr);
            // SAFETY: this thread alone claimed sliver s; its source rows lie inside `src` (see `new`).
            unsafe { (self.spec.pack_b)(self.src.at(s * nr, 0), rows, self.kcur, out) };
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
