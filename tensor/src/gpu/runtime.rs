//! Which backend runs `Device::Gpu(n)`, chosen once per process, and the table of opened devices,
//! each behind its caching allocator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use kernels::pool::{Pool, PoolStats};
use kernels::Gpu;

/// How GPU devices are backed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuBackend {
    /// CUDA when built with the `cuda` feature and a driver and GPU are present, else the interpreter;
    /// `CAE_GPU=interp|cuda` forces one.
    Best,
    /// The PTX interpreter (always available; what tests use).
    Interpreter,
    /// The CUDA driver; opening a device panics with the driver's reason when it cannot.
    Cuda,
}

static CHOICE: OnceLock<GpuBackend> = OnceLock::new();
/// An opened device: its handle (allocating through `pool`), its pool, and whether the PTX
/// interpreter stands in for it.
#[derive(Clone)]
struct Opened {
    gpu: Gpu,
    pool: Arc<Pool>,
    interp: bool,
}

static DEVICES: OnceLock<Mutex<HashMap<usize, Opened>>> = OnceLock::new();

/// Chooses the backend of every GPU device of this process. Call it before the first GPU tensor; it
/// may be called again with the same choice (tests do), and returns an error naming both choices
/// when a different one was already made.
pub fn select(backend: GpuBackend) -> Result<(), String> {
    let chosen = *CHOICE.get_or_init(|| backend);
    if chosen == backend {
        Ok(())
    } else {
        Err(format!("GPU backend already chosen as {chosen:?}; {backend:?} was asked for"))
    }
}

/// The backend choice from `CAE_GPU`, for `Best`.
fn from_env() -> Option<GpuBackend> {
    match std::env::var("CAE_GPU").ok()?.as_str() {
        "interp" => Some(GpuBackend::Interpreter),
        "cuda" => Some(GpuBackend::Cuda),
        other => panic!("CAE_GPU={other}: expected `interp` or `cuda`"),
    }
}

#[cfg(feature = "cuda")]
fn cuda(ordinal: usize) -> Result<Gpu, String> {
    Gpu::cuda(ordinal).map_err(|e| e.to_string())
}

#[cfg(not(feature = "cuda"))]
fn cuda(_ordinal: usize) -> Result<Gpu, String> {
    Err("tensor was built without its `cuda` feature".into())
}

fn open(ordinal: usize) -> Opened {
    let choice = *CHOICE.get_or_init(|| GpuBackend::Best);
    let choice = if choice == GpuBackend::Best { from_env().unwrap_or(GpuBackend::Best) } else { choice };
    let (gpu, interp, why) = match choice {
        GpuBackend::Interpreter => (Gpu::interpreter(), true, "the PTX interpreter was asked for".to_string()),
        GpuBackend::Cuda => match cuda(ordinal) {
            Ok(gpu) => (gpu, false, "CUDA was asked for".to_string()),
            Err(e) => panic!("gpu:{ordinal}: CUDA was asked for but cannot be opened: {e}"),
        },
        GpuBackend::Best => match cuda(ordinal) {
            Ok(gpu) => (gpu, false, "a CUDA driver and GPU are present".to_string()),
            Err(e) => (Gpu::interpreter(), true, format!("no CUDA: {e}")),
        },
    };
    eprintln!("tensor: gpu:{ordinal} runs on {} ({why})", gpu.name());
    let pool = Arc::new(Pool::new(gpu));
    Opened { gpu: Gpu::new(pool.clone()), pool, interp }
}

fn table() -> std::sync::MutexGuard<'static, HashMap<usize, Opened>> {
    DEVICES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner())
}

fn opened(ordinal: usize) -> Opened {
    table().entry(ordinal).or_insert_with(|| open(ordinal)).clone()
}

/// Whether GPU `ordinal` (opened now if it was not yet) runs on the PTX interpreter, and whether
/// that was asked for (`select(GpuBackend::Interpreter)` or `CAE_GPU=interp`) rather than fallen
/// back to for want of CUDA. Long jobs use it to refuse a silent fallback that is orders of
/// magnitude slower.
pub fn interpreter_status(ordinal: usize) -> (bool, bool) {
    let interp = opened(ordinal).interp;
    let asked = match CHOICE.get() {
        Some(GpuBackend::Interpreter) => true,
        Some(GpuBackend::Best) | None => from_env() == Some(GpuBackend::Interpreter),
        Some(GpuBackend::Cuda) => false,
    };
    (interp, asked)
}

/// The backend handle of GPU `ordinal`, opened (and announced) on first use.
pub fn runtime(ordinal: usize) -> Gpu {
    opened(ordinal).gpu
}

/// What the caching allocator of GPU `ordinal` has done and holds (opening the device if needed).
///
/// Every device buffer of a tensor, and every scratch buffer of a kernel, comes from its device's
/// pool; a dropped tensor's buffer goes back there, not to the driver, and serves the next request
/// of its size class (at most 1/8 larger than asked). Memory is given back to the driver only by
/// [`empty_cache`], or when an allocation fails (the pool then empties itself and tries once more).
pub fn pool_stats(ordinal: usize) -> PoolStats {
    opened(ordinal).pool.stats()
}

/// Gives every cached, unused device buffer of every opened GPU back to the driver (buffers still
/// held by tensors stay). Useful before handing the device to another library or process.
pub fn empty_cache() {
    let pools: Vec<(usize, Arc<Pool>)> = table().iter().map(|(&n, o)| (n, o.pool.clone())).collect();
    for (n, pool) in pools {
        super::check("empty_cache", n, pool.empty_cache());
    }
}
