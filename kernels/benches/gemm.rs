//! GEMM: our f32 variants 1-3 beside cuBLAS (`cublasSgemm`, full FP32, no TF32), and variant 4 (bf16 tensor
//! cores, f32 accumulation) beside `cublasGemmEx` with the same types, at square sizes and the ViT-B shapes
//! of a CAE step, printing TFLOP/s and the percentage of cuBLAS.
//!
//! Needs a CUDA GPU; it cannot run on the machines without one (it prints SKIPPED). On an H100:
//! `cargo bench -p kernels --features cuda --bench gemm`
//! H100 SXM's peaks are about 67 TFLOP/s FP32 (non-tensor) and 990 TFLOP/s dense bf16 on tensor cores;
//! cuBLAS reaches most of them, so the percentage of cuBLAS is also close to a fraction of the hardware's.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use cudarc::cublas::{result as cublas, sys as cublas_sys};
use kernels::gemm::{self, Shape, Variant};
use kernels::gemm_bf16;

/// (name, M, N, K): square sizes, then ViT-B over a batch of 64 images of 197 tokens (12608 rows):
/// the QKV projection, the MLP up and down projections.
const SHAPES: [(&str, usize, usize, usize); 6] = [
    ("square 1024", 1024, 1024, 1024),
    ("square 2048", 2048, 2048, 2048),
    ("square 4096", 4096, 4096, 4096),
    ("vit-b qkv", 12608, 2304, 768),
    ("vit-b mlp up", 12608, 3072, 768),
    ("vit-b mlp down", 12608, 768, 3072),
];

/// The naive variant needs seconds at 4096: it is timed only up to this many FLOPs.
const NAIVE_MAX_FLOP: f64 = 2.0 * 2048.0 * 2048.0 * 2048.0;

fn bench(c: &mut Criterion) {
    let Some((cuda, gpu)) = common::device() else { return };
    let handle = cublas::create_handle().expect("cuBLAS handle");
    // SAFETY: the handle and the stream are live for the whole benchmark.
    unsafe { cublas::set_stream(handle, cuda.stream().cast()) }.expect("cuBLAS stream");
    let mut group = c.benchmark_group("gemm_f32");
    group.sample_size(10);
    println!("{:<16} {:<28} {:>9} {:>10}", "shape", "kernel", "TFLOP/s", "% cuBLAS");
    for &(name, m, n, k) in &SHAPES {
        let flop = 2.0 * (m * n * k) as f64;
        let s = Shape::new(m, n, k, false, false);
        let (a, b, out) =
            (gpu.zeros::<f32>(m * k).unwrap(), gpu.zeros::<f32>(k * n).unwrap(), gpu.zeros::<f32>(m * n).unwrap());
        let run_cublas = || {
            let (alpha, beta) = (1.0f32, 0.0f32);
            // Row-major C = A B is column-major C^T = B^T A^T: swap the operands, keep the shapes.
            // SAFETY: buffers hold the sizes given; alpha and beta outlive the (stream-ordered) call.
            unsafe {
                let op = cublas_sys::cublasOperation_t::CUBLAS_OP_N;
                let (pa, pb, pc) = (a.ptr() as *const f32, b.ptr() as *const f32, out.ptr() as *mut f32);
                let (m, n, k) = (m as i32, n as i32, k as i32);
                cublas::sgemm(handle, op, op, n, m, k, &alpha, pb, n, pa, k, &beta, pc, n).expect("cublasSgemm");
            }
        };
        group.throughput(Throughput::Elements(flop as u64));
        let peer = common::seconds_per_run(&cuda, 5, run_cublas);
        println!("{name:<16} {:<28} {:>9.2} {:>9.0}%", "cuBLAS sgemm", flop / peer / 1e12, 100.0);
        group.bench_function(BenchmarkId::new("cublas", name), |bch| {
            bch.iter_custom(|iters| common::time(&cuda, iters, run_cublas))
        });
        for v in Variant::all() {
            if v == Variant::Naive && flop > NAIVE_MAX_FLOP {
                continue;
            }
            let run = || gemm::gemm(&gpu, v, &s, &a, &b, &out).unwrap();
            let secs = common::seconds_per_run(&cuda, 5, run);
            let tflops = flop / secs / 1e12;
            println!("{name:<16} {:<28} {tflops:>9.2} {:>9.1}%", v.module_name(), 100.0 * peer / secs);
            group.bench_function(BenchmarkId::new(v.module_name(), name), |bch| {
                bch.iter_custom(|iters| common::time(&cuda, iters, run))
            });
        }
    }
    group.finish();
    bench_bf16(c, &cuda, &gpu, handle);
    // SAFETY: nothing uses the handle any more.
    unsafe { cublas::destroy_handle(handle) }.expect("cuBLAS destroy");
}

/// Variant 4 beside cublasGemmEx (bf16 inputs, f32 output and compute), C = A B^T.
fn bench_bf16(c: &mut Criterion, cuda: &kernels::cuda::Cuda, gpu: &kernels::Gpu, handle: cublas_sys::cublasHandle_t) {
    let mut group = c.benchmark_group("gemm_bf16");
    group.sample_size(10);
    for &(name, m, n, k) in &SHAPES {
        let flop = 2.0 * (m * n * k) as f64;
        let (a, b, out) =
            (gpu.zeros::<u16>(m * k).unwrap(), gpu.zeros::<u16>(n * k).unwrap(), gpu.zeros::<f32>(m * n).unwrap());
        let run_cublas = || {
            let (alpha, beta) = (1.0f32, 0.0f32);
            // Row-major C = A B^T is column-major C^T = B A^T: B's rows are K-contiguous, so it enters as
            // the transposed first operand, A untransposed as the second.
            // SAFETY: buffers hold the sizes given; alpha and beta outlive the (stream-ordered) call.
            unsafe {
                let bf16 = cublas_sys::cudaDataType::CUDA_R_16BF;
                cublas::gemm_ex(
                    handle,
                    cublas_sys::cublasOperation_t::CUBLAS_OP_T,
                    cublas_sys::cublasOperation_t::CUBLAS_OP_N,
                    n as i32,
                    m as i32,
                    k as i32,
                    (&alpha as *const f32).cast(),
                    b.ptr() as *const _,
                    bf16,
                    k as i32,
                    a.ptr() as *const _,
                    bf16,
                    k as i32,
                    (&beta as *const f32).cast(),
                    out.ptr() as *mut _,
                    cublas_sys::cudaDataType::CUDA_R_32F,
                    n as i32,
                    cublas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                    cublas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
                )
                .expect("cublasGemmEx");
            }
        };
        group.throughput(Throughput::Elements(flop as u64));
        let peer = common::seconds_per_run(cuda, 5, run_cublas);
        println!("{name:<16} {:<28} {:>9.2} {:>9.0}%", "cuBLAS gemmEx bf16", flop / peer / 1e12, 100.0);
        let kc = gemm_bf16::Layout::KContiguous;
        let s = gemm_bf16::Shape::new(m, n, k, kc, kc);
        let run = || gemm_bf16::gemm_bf16(gpu, &s, &a, &b, &out).unwrap();
        let secs = common::seconds_per_run(cuda, 5, run);
        println!(
            "{name:<16} {:<28} {:>9.2} {:>9.1}%",
            "gemm_4_bf16_mma_mk_nk",
            flop / secs / 1e12,
            100.0 * peer / secs
        );
        group.bench_function(BenchmarkId::new("cublas", name), |bch| {
            bch.iter_custom(|iters| common::time(cuda, iters, run_cublas))
        });
        group.bench_function(BenchmarkId::new("gemm_4_bf16_mma_mk_nk", name), |bch| {
            bch.iter_custom(|iters| common::time(cuda, iters, run))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
