//! Checks a GPU would not report clearly. This file holds the fault type and the shared memory of a
//! CTA with its race detector; the other checks (bounds, alignment, uninitialised registers,
//! divergent barriers) sit where the access or the barrier is executed and report a [`Fault`].
//!
//! Race detection: every shared byte remembers, for the current barrier interval, the thread that
//! last wrote it and the thread (or "several threads") that read it. A second thread touching the
//! byte in the same interval, with at least one of the two accesses a write, is a race. Intervals
//! are numbered (an epoch), so a barrier forgets all history in O(1). Atomics are not tracked.

/// A failure inside one warp: the lane it concerns and what went wrong (the caller adds kernel,
/// instruction and thread).
#[derive(Debug)]
pub struct Fault {
    /// The lane of the warp that faulted.
    pub lane: u32,
    /// What went wrong.
    pub msg: String,
}

impl Fault {
    /// A fault of `lane`.
    pub fn new(lane: u32, msg: impl Into<String>) -> Self {
        Self { lane, msg: msg.into() }
    }
}

/// Marks a byte read by more than one thread.
const MANY: u32 = u32::MAX;
/// Marks readers from more than one warp.
const MIXED: u32 = u32::MAX;

/// The history of one shared byte in the current barrier interval.
#[derive(Clone, Copy, Default)]
struct Shadow {
    epoch: u32,
    /// Thread index + 1 of the last writer, 0 for none.
    writer: u32,
    wline: u32,
    /// `bar.warp.sync`s the writer's warp had executed at the write.
    wsync: u32,
    /// Thread index + 1 of the reader, 0 for none, MANY for several.
    reader: u32,
    rline: u32,
    /// The readers' warp (MIXED for several) and its latest `bar.warp.sync` count at a read.
    rwarp: u32,
    rsync: u32,
}

/// The shared memory of the CTA being run, with the per-byte history of the current interval.
pub struct SharedMem {
    /// The CTA's shared bytes (static arrays first, then dynamic memory).
    pub bytes: Vec<u8>,
    shadow: Vec<Shadow>,
    epoch: u32,
    block: [u32; 3],
    /// `bar.warp.sync`s each warp has executed in this CTA: they order its lanes' accesses.
    warp_syncs: Vec<u32>,
}

impl SharedMem {
    /// Shared memory of `size` bytes for CTAs of shape `block`.
    pub fn new(size: usize, block: [u32; 3]) -> Self {
        let warps = (block[0] * block[1] * block[2]).div_ceil(32) as usize;
        Self {
            bytes: vec![0; size],
            shadow: vec![Shadow::default(); size],
            epoch: 1,
            block,
            warp_syncs: vec![0; warps],
        }
    }

    /// Starts a new CTA: zeroed bytes, no history.
    pub fn reset(&mut self) {
        self.bytes.fill(0);
        self.epoch += 1;
        self.warp_syncs.fill(0);
    }

    /// A barrier completed: accesses before it can no longer race with accesses after it.
    pub fn barrier(&mut self) {
        self.epoch += 1;
    }

    /// Warp `warp` executed `bar.warp.sync`: its lanes' earlier accesses are ordered before later ones.
    pub fn warp_sync(&mut self, warp: u32) {
        self.warp_syncs[warp as usize] += 1;
    }

    fn tid(&self, thread: u32) -> String {
        let [bx, by, _] = self.block;
        format!("({},{},{})", thread % bx, thread / bx % by, thread / (bx * by))
    }

    /// Bounds-checks `[off, off+len)` and, when `race` is on, records the access of `thread`
    /// (at source `line`), failing on a race; returns the bytes.
    pub fn access(
        &mut self,
        off: u64,
        len: usize,
        thread: u32,
        write: bool,
        line: u32,
        race: bool,
    ) -> Result<&mut [u8], String> {
        let size = self.bytes.len() as u64;
        if off.checked_add(len as u64).is_none_or(|end| end > size) {
            return Err(format!(
                "shared access of {len} bytes at offset {off} is outside the CTA's {size} bytes of shared memory"
            ));
        }
        let start = off as usize;
        if race {
            for i in start..start + len {
                self.record(i, thread, write, line)?;
            }
        }
        Ok(&mut self.bytes[start..start + len])
    }

    fn record(&mut self, i: usize, thread: u32, write: bool, line: u32) -> Result<(), String> {
        let (me, warp) = (thread + 1, thread / 32);
        let sync = self.warp_syncs[warp as usize];
        let s = &mut self.shadow[i];
        if s.epoch != self.epoch {
            // First access of this byte in the interval: nothing to clash with.
            *s = if write {
                Shadow { epoch: self.epoch, writer: me, wline: line, wsync: sync, ..Shadow::default() }
            } else {
                Shadow { epoch: self.epoch, reader: me, rline: line, rwarp: warp, rsync: sync, ..Shadow::default() }
            };
            return Ok(());
        }
        // Another thread's access is ordered before ours only through a barrier (a new epoch) or a
        // bar.warp.sync of our common warp since it happened.
        let unordered_write = s.writer != 0 && s.writer != me && !((s.writer - 1) / 32 == warp && s.wsync < sync);
        let unordered_read = write && s.reader != 0 && s.reader != me && !(s.rwarp == warp && s.rsync < sync);
        if unordered_write || unordered_read {
            let (other, what, oline) =
                if unordered_write { (s.writer, "wrote", s.wline) } else { (s.reader, "read", s.rline) };
            let who =
                if other == MANY { "other threads".to_string() } else { format!("thread tid={}", self.tid(other - 1)) };
            let verb = if write { "writes" } else { "reads" };
            return Err(format!(
                "shared-memory race at offset {i}: this thread {verb} it after {who} {what} it (line {oline}) \
                 with no barrier in between"
            ));
        }
        if write {
            (s.writer, s.wline, s.wsync) = (me, line, sync);
        } else {
            s.rwarp = if s.reader == 0 || s.rwarp == warp { warp } else { MIXED };
            s.reader = if s.reader == 0 || s.reader == me { me } else { MANY };
            s.rline = line;
            s.rsync = s.rsync.max(sync);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn races_are_per_interval() {
        let mut m = SharedMem::new(16, [32, 1, 1]);
        m.access(0, 4, 0, true, 1, true).unwrap();
        m.access(0, 4, 0, false, 2, true).unwrap();
        let e = m.access(2, 2, 5, false, 3, true).unwrap_err();
        assert!(e.contains("race at offset 2") && e.contains("tid=(0,0,0)") && e.contains("line 1"), "{e}");
        m.barrier();
        m.access(0, 4, 5, false, 3, true).unwrap();
        m.access(0, 4, 6, false, 3, true).unwrap();
        assert!(m.access(0, 1, 5, true, 4, true).unwrap_err().contains("other threads read"));
        assert!(m.access(14, 4, 0, false, 1, true).unwrap_err().contains("outside the CTA's 16 bytes"));
    }
}
