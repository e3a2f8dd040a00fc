//! Set-up shared by the GPU test binaries.

use tensor::gpu::{select, GpuBackend};
use tensor::{DType, Device, Tensor};

/// GPU 0, on the PTX interpreter unless `CAE_GPU=cuda` asks for the real device.
pub fn select_gpu() -> Device {
    let backend =
        if std::env::var("CAE_GPU").as_deref() == Ok("cuda") { GpuBackend::Cuda } else { GpuBackend::Interpreter };
    select(backend).expect("one backend for the whole test binary");
    Device::Gpu(0)
}

/// Seeded standard-normal f32 values on the CPU.
pub fn randn(dims: &[usize], seed: u64) -> Tensor {
    Tensor::randn(dims.to_vec(), 0.0, 1.0, DType::F32, seed)
}
