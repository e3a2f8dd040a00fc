//! Backend selection: the CUDA backend never panics where there is no driver or GPU.
mod common;

#[cfg(feature = "cuda")]
#[test]
fn cuda_is_either_usable_or_reported_unavailable() {
    match kernels::Gpu::cuda(0) {
        Ok(gpu) => assert!(gpu.name().contains("CUDA"), "unexpected backend name {}", gpu.name()),
        Err(kernels::Error::Unavailable(why)) => assert!(!why.is_empty()),
        Err(e) => panic!("expected Unavailable on a machine without CUDA, got {e}"),
    }
}

#[test]
fn best_backend_runs_a_kernel() {
    let Some(gpu) = common::gpu() else { return };
    let x = gpu.upload(&[1.0f32, -2.0, 3.0]).unwrap();
    let out = gpu.alloc::<f32>(3).unwrap();
    kernels::elementwise::binary(
        &gpu,
        kernels::elementwise::BinaryOp::Mul,
        &out,
        &x,
        &x,
        kernels::elementwise::Broadcast::same(3),
    )
    .unwrap();
    assert_eq!(out.read().unwrap(), [1.0, 4.0, 9.0]);
}
