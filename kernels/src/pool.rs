//! A caching allocator in front of a backend. A training step allocates the same activations every
//! step; without a cache every op's output is a `cuMemAlloc`, and every drop a `cuMemFree`, which
//! waits for the whole stream. [`Pool`] keeps freed blocks per size class and hands them out again.
//!
//! Sizes are rounded up to a class: [`MIN_CLASS_BYTES`] at least, then [`CLASSES_PER_OCTAVE`] classes
//! per power of two, so a block is at most 1/8 larger than asked for. A block returns only to
//! requests of its own class. Reusing a block needs no wait: a backend queues all work on one
//! stream, so whatever is queued into the recycled block runs after every earlier use of it.
//!
//! Memory goes back to the backend only when [`Pool::empty_cache`] is called, when the backend's
//! allocation fails (everything cached is released and the allocation tried once more), and when the
//! pool is dropped.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{Arg, Backend, Error, Gpu, LaunchConfig, Result};

/// Smallest block handed out (cudaMalloc's own alignment is 256 bytes).
pub const MIN_CLASS_BYTES: usize = 512;
/// Size classes between two powers of two.
pub const CLASSES_PER_OCTAVE: usize = 8;

/// The bytes of the block that serves a request of `bytes`.
pub fn size_class(bytes: usize) -> usize {
    if bytes <= MIN_CLASS_BYTES {
        return MIN_CLASS_BYTES;
    }
    let octave = 1usize << (usize::BITS - 1 - bytes.leading_zeros());
    let step = octave / CLASSES_PER_OCTAVE;
    bytes.div_ceil(step) * step
}

/// What the pool has done so far, and what it holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Blocks obtained from the backend's allocator.
    pub backend_allocs: u64,
    /// Requests served from the cache.
    pub reuses: u64,
    /// Bytes of blocks handed out and not yet freed (whole blocks, not the bytes asked for).
    pub in_use_bytes: usize,
    /// Bytes of freed blocks kept for reuse.
    pub cached_bytes: usize,
}

#[derive(Default)]
struct State {
    /// Freed blocks by size class.
    cached: HashMap<usize, Vec<u64>>,
    /// Size class of every block handed out.
    live: HashMap<u64, usize>,
    stats: PoolStats,
}

/// A backend whose allocations go through a cache; everything else goes straight to `inner`.
pub struct Pool {
    inner: Gpu,
    state: Mutex<State>,
}

impl Pool {
    /// A cache in front of `inner`'s allocator.
    pub fn new(inner: Gpu) -> Pool {
        Pool { inner, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The bookkeeping is updated in single statements: a panic elsewhere leaves it consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counters and current holdings.
    pub fn stats(&self) -> PoolStats {
        self.state().stats
    }

    /// Returns every cached block to the backend (blocks in use stay where they are).
    pub fn empty_cache(&self) -> Result<()> {
        let blocks: Vec<u64> = {
            let mut s = self.state();
            s.stats.cached_bytes = 0;
            s.cached.drain().flat_map(|(_, v)| v).collect()
        };
        blocks.into_iter().try_for_each(|ptr| self.inner.backend().free(ptr))
    }
}

impl Backend for Pool {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn alloc(&self, bytes: usize) -> Result<u64> {
        let class = size_class(bytes);
        let reused = {
            let mut s = self.state();
            let ptr = s.cached.get_mut(&class).and_then(Vec::pop);
            if ptr.is_some() {
                s.stats.reuses += 1;
                s.stats.cached_bytes -= class;
            }
            ptr
        };
        let ptr = match reused {
            Some(ptr) => ptr,
            None => {
                let backend = self.inner.backend();
                let ptr = match backend.alloc(class) {
                    Ok(ptr) => ptr,
                    // Out of memory, perhaps only because of what the cache holds: give it back, try again.
                    Err(_) => {
                        self.empty_cache()?;
                        backend.alloc(class)?
                    }
                };
                self.state().stats.backend_allocs += 1;
                ptr
            }
        };
        self.inner.backend().recycle(ptr, bytes)?;
        let mut s = self.state();
        s.live.insert(ptr, class);
        s.stats.in_use_bytes += class;
        Ok(ptr)
    }

    fn free(&self, ptr: u64) -> Result<()> {
        let mut s = self.state();
        let class = s
            .live
            .remove(&ptr)
            .ok_or_else(|| Error::Memory(format!("free of 0x{ptr:x}, which is not a block handed out by this pool")))?;
        s.stats.in_use_bytes -= class;
        s.stats.cached_bytes += class;
        s.cached.entry(class).or_default().push(ptr);
        Ok(())
    }

    fn recycle(&self, ptr: u64, bytes: usize) -> Result<()> {
        self.inner.backend().recycle(ptr, bytes)
    }

    fn write(&self, dst: u64, src: &[u8]) -> Result<()> {
        self.inner.backend().write(dst, src)
    }

    fn read(&self, src: u64, dst: &mut [u8]) -> Result<()> {
        self.inner.backend().read(src, dst)
    }

    fn load(&self, module: &str, ptx: &str) -> Result<()> {
        self.inner.load(module, ptx)
    }

    fn launch(&self, module: &str, kernel: &str, cfg: &LaunchConfig, args: &[Arg]) -> Result<()> {
        self.inner.launch(module, kernel, cfg, args)
    }

    fn synchronize(&self) -> Result<()> {
        self.inner.synchronize()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Nothing can be reported from a drop; the blocks in use went with their buffers' own Gpu handles,
        // which keep the pool alive, so only the cache is left.
        let _ = self.empty_cache();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn classes_round_up_by_at_most_an_eighth() {
        assert_eq!(size_class(1), MIN_CLASS_BYTES);
        assert_eq!(size_class(512), 512);
        assert_eq!(size_class(513), 576);
        assert_eq!(size_class(1024), 1024);
        assert_eq!(size_class(1025), 1152);
        for bytes in [600, 4097, 77 << 20, (1 << 30) + 1] {
            let c = size_class(bytes);
            assert!(c >= bytes && c - bytes <= bytes / 8, "{bytes} -> {c}");
            assert_eq!(size_class(c), c, "a class is its own class");
        }
    }

    #[test]
    fn a_freed_block_serves_the_next_request_of_its_class_with_fresh_checks() {
        let pool = Arc::new(Pool::new(Gpu::interpreter()));
        let gpu = Gpu::new(pool.clone());
        let a = gpu.upload(&[1f32; 150]).unwrap();
        let first = a.ptr();
        drop(a);
        assert_eq!(pool.stats(), PoolStats { backend_allocs: 1, reuses: 0, in_use_bytes: 0, cached_bytes: 640 });
        // 145 floats are 580 bytes, in the class of 600 (577..=640): the same block, checked at its new length.
        let b = gpu.alloc::<f32>(145).unwrap();
        assert_eq!(b.ptr(), first);
        assert_eq!(pool.stats(), PoolStats { backend_allocs: 1, reuses: 1, in_use_bytes: 640, cached_bytes: 0 });
        assert!(gpu.backend().write(b.ptr() + 580, &[0; 4]).is_err(), "past the 145 floats asked for");
        b.write(&[2f32; 145]).unwrap();
        assert_eq!(b.read().unwrap(), vec![2f32; 145]);
        // Another class gets another block.
        let c = gpu.alloc::<f32>(1000).unwrap();
        assert_ne!(c.ptr(), first);
        drop((b, c));
        assert_eq!(pool.stats().cached_bytes, 640 + 4096);
        pool.empty_cache().unwrap();
        assert_eq!(pool.stats().cached_bytes, 0);
        assert!(pool.free(first).is_err(), "a block already given back is not the pool's");
    }
}
