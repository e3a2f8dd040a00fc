//! Memory-bound kernels (softmax, layernorm forward, GELU) in GB/s beside a device-to-device copy
//! (`cuMemcpyDtoD`) of the same bytes, at ViT-S/B widths over 64 images of 197 tokens.
//!
//! Needs a CUDA GPU; it cannot run on the machines without one (it prints SKIPPED). On an H100:
//! `cargo bench -p kernels --features cuda --bench bandwidth`
//! Bytes counted are the compulsory ones: each input read once, each output written once (re-reads of a
//! row served by L1/L2 are not counted). H100 SXM's HBM3 peak is about 3.35 TB/s.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kernels::{elementwise, layernorm, softmax};

/// Rows: 64 images x 197 tokens.
const ROWS: usize = 64 * 197;
/// ViT-S and ViT-B widths, and the MLP width of ViT-B.
const WIDTHS: [usize; 3] = [384, 768, 3072];

/// A named kernel launch to time.
type Run<'a> = (&'static str, Box<dyn Fn() + 'a>);

fn bench(c: &mut Criterion) {
    let Some((cuda, gpu)) = common::device() else { return };
    let mut group = c.benchmark_group("bandwidth");
    group.sample_size(20);
    println!("{:<28} {:>8} {:>9} {:>10}", "kernel", "cols", "GB/s", "% of copy");
    for &cols in &WIDTHS {
        let n = ROWS * cols;
        let (x, y) = (gpu.zeros::<f32>(n).unwrap(), gpu.zeros::<f32>(n).unwrap());
        let (w, b) = (gpu.zeros::<f32>(cols).unwrap(), gpu.zeros::<f32>(cols).unwrap());
        let (mean, rstd) = (gpu.zeros::<f32>(ROWS).unwrap(), gpu.zeros::<f32>(ROWS).unwrap());
        let bytes = (2 * n * 4) as f64; // read x, write y
        let copy = || cuda.copy_device(y.ptr(), x.ptr(), n * 4).unwrap();
        let copy_s = common::seconds_per_run(&cuda, 20, copy);
        println!("{:<28} {cols:>8} {:>9.0} {:>9.0}%", "cuMemcpyDtoD", bytes / copy_s / 1e9, 100.0);
        let naive = softmax::Variant::Naive;
        let runs: [Run; 4] = [
            (
                "softmax_forward_naive (1)",
                Box::new(|| softmax::forward_variant(&gpu, naive, &y, &x, ROWS, cols).unwrap()),
            ),
            ("softmax_forward (2)", Box::new(|| softmax::forward(&gpu, &y, &x, ROWS, cols).unwrap())),
            (
                "layernorm_forward",
                Box::new(|| layernorm::forward(&gpu, &y, &mean, &rstd, &x, &w, &b, cols, 1e-6).unwrap()),
            ),
            ("gelu_forward", Box::new(|| elementwise::gelu_forward(&gpu, &y, &x).unwrap())),
        ];
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(BenchmarkId::new("memcpy_dtod", cols), |bch| {
            bch.iter_custom(|iters| common::time(&cuda, iters, copy))
        });
        for (name, run) in &runs {
            let s = common::seconds_per_run(&cuda, 20, run);
            println!("{name:<28} {cols:>8} {:>9.0} {:>9.0}%", bytes / s / 1e9, 100.0 * copy_s / s);
            group.bench_function(BenchmarkId::new(*name, cols), |bch| {
                bch.iter_custom(|iters| common::time(&cuda, iters, run))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
