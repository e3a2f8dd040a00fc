//! `CAE_GPU` forces the backend `Gpu::best()` returns. One test in its own binary: it sets the variable,
//! which no other test may observe.

#[test]
fn cae_gpu_forces_or_rejects_a_backend() {
    std::env::set_var("CAE_GPU", "interp");
    assert_eq!(kernels::Gpu::best().unwrap().name(), "PTX interpreter");
    std::env::set_var("CAE_GPU", "tpu");
    match kernels::Gpu::best() {
        Err(kernels::Error::Unavailable(why)) => assert!(why.contains("CAE_GPU=tpu"), "{why}"),
        other => panic!("CAE_GPU=tpu should be refused, got {other:?}"),
    }
    // Forcing CUDA where it cannot work is an error, not a silent fall-back.
    std::env::set_var("CAE_GPU", "cuda");
    if let Ok(gpu) = kernels::Gpu::best() {
        assert!(gpu.name().contains("CUDA"), "CAE_GPU=cuda gave {}", gpu.name());
    }
}
