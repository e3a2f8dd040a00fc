//! Memory-bound CPU kernels (tensor::cpu) in GB/s, each beside its peer: a plain `copy_from_slice`
//! moving the same number of bytes (read + written) in the same run, which is what the memory
//! system can do. The hardware limit is the copy; a kernel at ratio ~1 is memory-bound and done.
//!
//! Sizes are ViT-Small activations at batch 64: 12608 tokens × 384 (and × 1536 for the MLP), and
//! attention scores of 64·6 heads × 197 queries, rows of 197 keys.
//!
//! Run: `cargo bench --bench ops` (about two minutes; `OPS_ONLY=softmax` runs the matching ops only). Criterion prints each measurement; a summary
//! table (best of several runs, timed directly) is printed at the end.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tensor::cpu::binary::{binary, BinaryOp, Operand};
use tensor::cpu::layernorm::{layer_norm_backward_rows, layer_norm_rows};
use tensor::cpu::reduce::{reduce, ReduceOp};
use tensor::cpu::softmax::softmax_rows;
use tensor::cpu::unary::{unary, UnaryOp};

const TOKENS: usize = 12_608; // 64 images × 197 tokens
const DIM: usize = 384; // ViT-S width
const MLP: usize = 1536; // ViT-S MLP width
const ATTN_ROWS: usize = 64 * 6 * 197; // batch × heads × queries
const SEQ: usize = 197;
const LOGIT_ROWS: usize = 1024; // decoder logits: rows of a vocabulary-sized width
const VOCAB: usize = 8192;
const F32: usize = std::mem::size_of::<f32>();

fn data(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919) % 1009) as f32 / 250.0 - 2.0).collect()
}

/// One benchmarked op: its name, the bytes it reads and writes per call, and the call.
struct Case {
    name: String,
    bytes: usize,
    run: Box<dyn FnMut()>,
}

fn case(name: &str, bytes: usize, run: impl FnMut() + 'static) -> Case {
    Case { name: name.to_string(), bytes, run: Box::new(run) }
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let n = TOKENS * MLP;
    for (name, op) in [("gelu", UnaryOp::Gelu), ("exp", UnaryOp::Exp)] {
        let (x, mut out) = (data(n), vec![0.0; n]);
        v.push(case(&format!("{name} {TOKENS}x{MLP}"), 2 * n * F32, move || unary(op, &x, &mut out)));
    }
    let (a, b, mut out) = (data(n), data(n), vec![0.0; n]);
    v.push(case(&format!("add {TOKENS}x{MLP}"), 3 * n * F32, move || {
        binary(BinaryOp::Add, Operand::Slice(&a), Operand::Slice(&b), &mut out)
    }));
    let (a, mut out) = (data(n), vec![0.0; n]);
    v.push(case(&format!("mul scalar {TOKENS}x{MLP}"), 2 * n * F32, move || {
        binary(BinaryOp::Mul, Operand::Slice(&a), Operand::Scalar(0.5), &mut out)
    }));
    let n = TOKENS * DIM;
    let (x, mut out) = (data(n), vec![0.0; TOKENS]);
    v.push(case(&format!("row sum {TOKENS}x{DIM}"), (n + TOKENS) * F32, move || {
        reduce(ReduceOp::Sum, &x, TOKENS, DIM, 1, &mut out)
    }));
    let (x, mut out) = (data(n), vec![0.0; DIM]);
    v.push(case(&format!("col sum {TOKENS}x{DIM}"), (n + DIM) * F32, move || {
        reduce(ReduceOp::Sum, &x, 1, TOKENS, DIM, &mut out)
    }));
    for (rows, width) in [(ATTN_ROWS, SEQ), (TOKENS, DIM), (LOGIT_ROWS, VOCAB)] {
        let (x, mut out) = (data(rows * width), vec![0.0; rows * width]);
        v.push(case(&format!("softmax {rows}x{width}"), 2 * rows * width * F32, move || {
            softmax_rows(&x, width, &mut out)
        }));
    }
    for width in [DIM, 2 * DIM] {
        let n = TOKENS * width;
        let (x, w, b) = (data(n), data(width), data(width));
        let (mut out, mut m, mut r) = (vec![0.0; n], vec![0.0; TOKENS], vec![0.0; TOKENS]);
        v.push(case(&format!("layernorm fwd {TOKENS}x{width}"), 2 * n * F32, move || {
            layer_norm_rows(&x, width, Some(&w), Some(&b), 1e-6, &mut out, &mut m, &mut r)
        }));
    }
    let n = TOKENS * DIM;
    let (x, dy, w) = (data(n), data(n), data(DIM));
    let (mut out, mut m, mut r) = (vec![0.0; n], vec![0.0; TOKENS], vec![0.0; TOKENS]);
    layer_norm_rows(&x, DIM, Some(&w), None, 1e-6, &mut out, &mut m, &mut r);
    let (mut dx, mut dw, mut db) = (vec![0.0; n], vec![0.0; DIM], vec![0.0; DIM]);
    v.push(case(&format!("layernorm bwd {TOKENS}x{DIM}"), 3 * n * F32, move || {
        let (dwo, dbo) = (Some(&mut dw[..]), Some(&mut db[..]));
        layer_norm_backward_rows(&x, &dy, DIM, Some(&w), &m, &r, &mut dx, dwo, dbo)
    }));
    v
}

/// The peer: a copy moving `bytes` in total (half read, half written).
fn copy_case(bytes: usize) -> Case {
    let n = bytes / 2 / F32;
    let (src, mut dst) = (data(n), vec![0.0f32; n]);
    case("copy", bytes, move || dst.copy_from_slice(black_box(&src)))
}

fn gbps(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / 1e9
}

/// Best time of a few calls: the least disturbed by the VM and the other core's noise.
fn best_of(run: &mut dyn FnMut(), reps: usize) -> Duration {
    run();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("ops");
    group.sample_size(10).warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(1));
    let mut summary = Vec::new();
    let only = std::env::var("OPS_ONLY").unwrap_or_default();
    for mut op in cases().into_iter().filter(|c| c.name.contains(&only)) {
        let mut copy = copy_case(op.bytes);
        group.throughput(Throughput::Bytes(op.bytes as u64));
        group.bench_function(&op.name, |b| b.iter(&mut op.run));
        group.bench_function(format!("{} (copy peer)", op.name), |b| b.iter(&mut copy.run));
        let ours = gbps(op.bytes, best_of(&mut op.run, 10));
        let peer = gbps(copy.bytes, best_of(&mut copy.run, 10));
        summary.push((op.name, ours, peer));
    }
    group.finish();
    println!("\n{:<32} {:>8} {:>10} {:>7}", "op", "GB/s", "copy GB/s", "ratio");
    for (name, ours, peer) in summary {
        println!("{name:<32} {ours:>8.1} {peer:>10.1} {:>7.2}", ours / peer);
    }
    println!("(GB/s counts bytes read + written; copy = copy_from_slice of the same byte count)");
    if only.is_empty() {
        threshold_check();
    }
}

/// Cost per element of a cheap op (add) and a heavy one (gelu) around their split thresholds
/// (`Cost::par_min_elems`): just below runs on one thread, from the threshold on rayon splits it.
fn threshold_check() {
    use tensor::cpu::simd::Cost;
    for (name, cost) in [("add", Cost::Cheap), ("gelu", Cost::Heavy)] {
        let at = cost.par_min_elems();
        println!("\n{cost:?} threshold = {at}: {name}, ns per element");
        for n in [at / 4, at / 2, at - 1, at, 2 * at, 4 * at] {
            let (a, b, mut out) = (data(n), data(n), vec![0.0f32; n]);
            let mut run = || match cost {
                Cost::Cheap => binary(BinaryOp::Add, Operand::Slice(&a), Operand::Slice(&b), &mut out),
                Cost::Heavy => unary(UnaryOp::Gelu, &a, &mut out),
            };
            let t = best_of(&mut run, 200);
            println!("  n = {n:>7}: {:.3} ns/elem", t.as_secs_f64() * 1e9 / n as f64);
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
