//! The trait each backend implements. Addresses are plain `u64` device addresses, so kernels, buffers
//! and tests are written once and run on either backend.

use crate::{Arg, LaunchConfig, Result};

/// A place that can hold device memory and run PTX kernels: the CUDA driver or the interpreter.
pub trait Backend: Send + Sync {
    /// Human-readable name for messages and benchmark output ("NVIDIA H100 (CUDA)", "PTX interpreter").
    fn name(&self) -> String;
    /// Allocates `bytes` of global memory, uninitialised (the interpreter marks it so).
    fn alloc(&self, bytes: usize) -> Result<u64>;
    /// Frees an allocation made by `alloc`.
    fn free(&self, ptr: u64) -> Result<()>;
    /// Says that allocation `ptr` is being handed out again, by a caching allocator, for its first
    /// `bytes` bytes (at most what `alloc` reserved). The interpreter forgets what was written there and
    /// checks later accesses against the new length, so reuse keeps its out-of-bounds and
    /// uninitialised-read checks; CUDA has nothing to do.
    fn recycle(&self, _ptr: u64, _bytes: usize) -> Result<()> {
        Ok(())
    }
    /// Copies host bytes to device address `dst`.
    fn write(&self, dst: u64, src: &[u8]) -> Result<()>;
    /// Copies device bytes at `src` to the host.
    fn read(&self, src: u64, dst: &mut [u8]) -> Result<()>;
    /// Loads a PTX module under `module`; loading the same name again is a no-op (modules are cached).
    fn load(&self, module: &str, ptx: &str) -> Result<()>;
    /// Launches `kernel` of a loaded module. The CUDA backend returns at once (launches queue on
    /// one stream); the interpreter runs the grid to completion before returning.
    fn launch(&self, module: &str, kernel: &str, cfg: &LaunchConfig, args: &[Arg]) -> Result<()>;
    /// Waits until every launch so far has finished.
    fn synchronize(&self) -> Result<()>;
}
