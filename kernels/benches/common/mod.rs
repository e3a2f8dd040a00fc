//! What both kernel benchmarks share: opening the CUDA device, and timing launches with CUDA events.
#![allow(dead_code)] // each bench uses its own subset

use std::sync::Arc;
use std::time::Duration;

use cudarc::driver::{result, sys};
use kernels::cuda::Cuda;
use kernels::Gpu;

/// The CUDA device, or `None` with the reason printed (the benchmarks need a real GPU).
pub fn device() -> Option<(Arc<Cuda>, Gpu)> {
    match Cuda::new(0) {
        Ok(cuda) => {
            let cuda = Arc::new(cuda);
            let gpu = Gpu::new(cuda.clone());
            println!("device: {}", gpu.name());
            Some((cuda, gpu))
        }
        Err(e) => {
            println!("SKIPPED: these benchmarks need a CUDA GPU ({e})");
            None
        }
    }
}

/// GPU time of `reps` back-to-back runs of `f`, measured between two events on the backend's stream
/// (host launch overhead overlaps the kernels, as in a training step).
pub fn time(cuda: &Cuda, reps: u64, mut f: impl FnMut()) -> Duration {
    cuda.bind().unwrap();
    let start = result::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT).unwrap();
    let end = result::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT).unwrap();
    // SAFETY: the events and the stream are live for the whole block.
    unsafe {
        result::event::record(start, cuda.stream()).unwrap();
        for _ in 0..reps {
            f();
        }
        result::event::record(end, cuda.stream()).unwrap();
        result::event::synchronize(end).unwrap();
        let ms = result::event::elapsed(start, end).unwrap();
        result::event::destroy(start).unwrap();
        result::event::destroy(end).unwrap();
        Duration::from_secs_f64(ms as f64 / 1e3)
    }
}

/// Seconds per run of `f`: best of 5 batches of `reps` after a warm-up run (best, because anything
/// else on the GPU only ever slows a batch down).
pub fn seconds_per_run(cuda: &Cuda, reps: u64, mut f: impl FnMut()) -> f64 {
    time(cuda, 1, &mut f);
    (0..5).map(|_| time(cuda, reps, &mut f).as_secs_f64() / reps as f64).fold(f64::INFINITY, f64::min)
}
