//! Which backend runs `Device::Gpu(n)`, chosen once per process, and the table of opened devices.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

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
/// The opened devices, each with whether the PTX interpreter stands in for it.
static DEVICES: OnceLock<Mutex<HashMap<usize, (Gpu, bool)>>> = OnceLock::new();

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

fn open(ordinal: usize) -> (Gpu, bool) {
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
    (gpu, interp)
}

fn opened(ordinal: usize) -> (Gpu, bool) {
    let table = DEVICES.get_or_init(Default::default);
    let mut table = table.lock().unwrap_or_else(|e| e.into_inner());
    table.entry(ordinal).or_insert_with(|| open(ordinal)).clone()
}

/// Whether GPU `ordinal` (opened now if it was not yet) runs on the PTX interpreter, and whether
/// that was asked for (`select(GpuBackend::Interpreter)` or `CAE_GPU=interp`) rather than fallen
/// back to for want of CUDA. Long jobs use it to refuse a silent fallback that is orders of
/// magnitude slower.
pub fn interpreter_status(ordinal: usize) -> (bool, bool) {
    let interp = opened(ordinal).1;
    let asked = match CHOICE.get() {
        Some(GpuBackend::Interpreter) => true,
        Some(GpuBackend::Best) | None => from_env() == Some(GpuBackend::Interpreter),
        Some(GpuBackend::Cuda) => false,
    };
    (interp, asked)
}

/// The backend handle of GPU `ordinal`, opened (and announced) on first use.
pub fn runtime(ordinal: usize) -> Gpu {
    opened(ordinal).0
}
