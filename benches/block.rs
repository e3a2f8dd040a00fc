//! Forward + backward of one ViT-Small CAE encoder block (batch 64, 197 tokens, width 384, 12 heads,
//! f32) on the CPU with our autograd, beside PyTorch CPU eager on the same shapes in the same run.
//!
//! Peer: benches/torch_block.py (the PyTorch block of the parity fixture), run as a subprocess with
//! `$TORCH_PYTHON` (default `python3`), 2 threads like ours. Hardware limit: the FMA peak that
//! `cargo bench --bench sgemm` prints. Only the matmuls' FLOPs are counted; the rest of the block
//! (layer norms, softmax, GELU, copies) is memory-bound and shows as a lower GFLOP/s.
//!
//! Run: `TORCH_PYTHON=/tmp/torchenv/bin/python cargo bench --bench block` (two to three minutes).

#[path = "../autograd/tests/common/encoder_block.rs"]
mod encoder_block;
#[path = "common/torch_peer.rs"]
mod torch_peer;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use autograd::{Param, ParamStore, Var};
use criterion::{Criterion, SamplingMode};
use tensor::{DType, Tensor};

use encoder_block::{encoder_block, param_shapes, MLP_RATIO};

const BATCH: usize = 64;
const TOKENS: usize = 197; // 196 patches + cls
const WIDTH: usize = 384;
const HEADS: usize = 12;
const THREADS: usize = 2; // the machine's cores; PyTorch gets the same
const SAMPLES: usize = 10; // criterion's minimum; one iteration per sample, seconds each
const TORCH_WARMUP: usize = 2;
const TORCH_ITERS: usize = 10;
const PREFIX: &str = "blocks.0.";

/// Seconds per iteration of each criterion sample (the median of these is the table's figure).
static SAMPLE_SECS: Mutex<Vec<f64>> = Mutex::new(Vec::new());

/// FLOPs of forward + backward: the matmuls (qkv, proj, fc1, fc2; attention's two) forward, and
/// twice that backward (a gradient for each operand).
fn flops() -> f64 {
    let (m, d) = ((BATCH * TOKENS) as f64, WIDTH as f64);
    let linears = 2.0 * m * (3.0 * d * d + d * d + 2.0 * MLP_RATIO as f64 * d * d);
    let attention = 4.0 * BATCH as f64 * (TOKENS * TOKENS) as f64 * d;
    3.0 * (linears + attention)
}

fn random_block() -> (ParamStore, Param, Tensor) {
    let mut store = ParamStore::new();
    for (i, (name, shape)) in param_shapes(WIDTH).into_iter().enumerate() {
        let std = if shape.len() == 2 { (shape[1] as f64).powf(-0.5) } else { 0.2 };
        store.insert(format!("{PREFIX}{name}"), Tensor::randn(shape, 0.0, std, DType::F32, i as u64));
    }
    let x = Param::new(Tensor::randn([BATCH, TOKENS, WIDTH], 0.0, 1.0, DType::F32, 100)); // [B, N, D]
    let r = Tensor::randn([BATCH, TOKENS, WIDTH], 0.0, 1.0, DType::F32, 101); // [B, N, D]
    (store, x, r)
}

fn step(store: &ParamStore, x: &Param, r: &Tensor) {
    store.zero_grad();
    x.zero_grad();
    let out = encoder_block(&x.var(), store, PREFIX, HEADS); // [B, N, D]
    out.mul(&Var::constant(r.clone())).sum_all().backward();
}

fn bench_ours(c: &mut Criterion) {
    let (store, x, r) = random_block();
    let mut group = c.benchmark_group("block");
    group.sample_size(SAMPLES).sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(5));
    group.bench_function("vit-s fwd+bwd (ours)", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                step(&store, &x, &r);
            }
            let elapsed = start.elapsed();
            SAMPLE_SECS.lock().unwrap().push(elapsed.as_secs_f64() / iters as f64);
            elapsed
        })
    });
    group.finish();
}

/// Median and best of PyTorch's timed iterations in ms, and its report line; or why there are none.
fn torch_times_ms() -> Result<(f64, f64, String), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/torch_block.py");
    let args = [
        ("--batch", BATCH),
        ("--tokens", TOKENS),
        ("--width", WIDTH),
        ("--heads", HEADS),
        ("--threads", THREADS),
        ("--warmup", TORCH_WARMUP),
        ("--iters", TORCH_ITERS),
    ]
    .map(|(k, v)| (k, v.to_string()));
    torch_peer::torch_times_ms(script, "torch_block", &args)
}

fn main() {
    rayon::ThreadPoolBuilder::new().num_threads(THREADS).build_global().expect("rayon pool");
    println!(
        "block bench: B={BATCH} N={TOKENS} D={WIDTH} H={HEADS}, f32, {THREADS} threads; {:.1} GFLOP per step",
        flops() / 1e9
    );
    let mut c = Criterion::default().configure_from_args();
    bench_ours(&mut c);
    c.final_summary();

    let all = SAMPLE_SECS.lock().unwrap().clone();
    // Warm-up calls are recorded too; the measured samples are the last SAMPLES.
    let mut secs = all[all.len().saturating_sub(SAMPLES)..].to_vec();
    secs.sort_by(f64::total_cmp);
    let Some(&ours_s) = secs.get(secs.len() / 2) else { return }; // filtered out by a criterion argument
    let gflops = |ms: f64| flops() / (ms / 1e3) / 1e9;
    let (ours_ms, ours_best_ms) = (ours_s * 1e3, secs[0] * 1e3);

    println!("\nrunning the PyTorch peer ({TORCH_WARMUP} warm-up + {TORCH_ITERS} timed iterations)...");
    let torch = torch_times_ms();
    // Best-of beside the median: on a shared machine the best is the least disturbed iteration.
    let row = |name: &str, median: f64, best: f64| {
        println!("{name:<24} {median:>10.1} {best:>10.1} {:>10.1} {:>10.1}", gflops(median), gflops(best))
    };
    println!(
        "\n{:<24} {:>10} {:>10} {:>10} {:>10}",
        "vit-s block fwd+bwd", "median ms", "best ms", "GFLOP/s", "best GF/s"
    );
    row("ours (autograd)", ours_ms, ours_best_ms);
    match torch {
        Ok((median, best, line)) => {
            row("pytorch eager", median, best);
            println!("{:<24} {:>10.2} {:>10.2}", "ratio ours / pytorch", ours_ms / median, ours_best_ms / best);
            println!("(FLOPs = 3 × forward matmul FLOPs; peer: {line})");
        }
        Err(why) => {
            println!("pytorch eager: unavailable: {why}");
            println!("  {}", torch_peer::INSTALL_HINT);
        }
    }
}
