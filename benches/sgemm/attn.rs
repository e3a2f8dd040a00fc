//! The `attn` group: the small per-head products of ViT attention, one matrix per thread, as the
//! attention op runs them (`Parallelism::None`, views straight into the fused qkv buffer).
//!
//! Run: `SGEMM_BENCH_ATTN=200 cargo bench --bench sgemm` (rounds: ours vs the `gemm` crate on one thread,
//! timed by this thread's CPU clock, best round kept), or through criterion: `cargo bench --bench sgemm -- attn`.

use criterion::{Criterion, Throughput};
use tensor::cpu::gemm::{sgemm, MatMut, MatRef, Parallelism};

/// Tokens per image (14×14 patches) and the channels of one head, as in CAE-Small.
const TOKENS: usize = 196;
const HEAD_DIM: usize = 32;
const HEADS: usize = 12;
/// Row length of the fused qkv buffer: q, k and v of every head side by side.
const QKV_ROW: usize = 3 * HEADS * HEAD_DIM;

/// One product with strides (row, column) for A, B and a dense row-major C.
struct Case {
    name: &'static str,
    id: &'static str,
    m: usize,
    n: usize,
    k: usize,
    a_strides: (usize, usize),
    b_strides: (usize, usize),
}

fn cases() -> [Case; 2] {
    [
        // scores[196, 196] = q[196, 32]·kᵀ (kᵀ is a transposed view into qkv)
        Case {
            name: "scores q·kᵀ",
            id: "scores",
            m: TOKENS,
            n: TOKENS,
            k: HEAD_DIM,
            a_strides: (QKV_ROW, 1),
            b_strides: (1, QKV_ROW),
        },
        // out[196, 32] = p[196, 196]·v[196, 32] (v a view into qkv)
        Case {
            name: "p·v",
            id: "pv",
            m: TOKENS,
            n: HEAD_DIM,
            k: TOKENS,
            a_strides: (TOKENS, 1),
            b_strides: (QKV_ROW, 1),
        },
    ]
}

fn run(peer: &str, cs: &Case, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, n, k) = (cs.m, cs.n, cs.k);
    match peer {
        "ours" => {
            let av = MatRef { data: a, offset: 0, rows: m, cols: k, rs: cs.a_strides.0, cs: cs.a_strides.1 };
            let bv = MatRef { data: b, offset: 0, rows: k, cols: n, rs: cs.b_strides.0, cs: cs.b_strides.1 };
            sgemm(1.0, av, bv, 0.0, MatMut::row_major(c, m, n), Parallelism::None);
        }
        "gemm" => super::gemm_crate(m, n, k, a, cs.a_strides, b, cs.b_strides, c, 1),
        _ => unreachable!(),
    }
}

/// Calls per timed batch: one per head, as one attention layer makes them.
const CALLS: usize = HEADS;
const PEERS: [&str; 2] = ["ours", "gemm"];

/// One call per head: the A operand is the head's q (scores) or the probabilities p (p·v); B is the
/// head's k (scores) or v, each at its own column offset of the qkv rows.
fn one_layer(peer: &str, cs: &Case, qkv: &[f32], p: &[f32], c: &mut [f32]) {
    let scores = cs.k == HEAD_DIM;
    for h in 0..CALLS {
        let a = if scores { &qkv[h * HEAD_DIM..] } else { p };
        let b_off = if scores { HEADS * HEAD_DIM } else { 2 * HEADS * HEAD_DIM };
        run(peer, cs, a, &qkv[b_off + h * HEAD_DIM..], c);
    }
}

/// The same products under criterion (group `attn`; throughput in FLOP/s).
pub fn bench(cr: &mut Criterion) {
    let mut group = cr.benchmark_group("attn");
    let qkv = vec![0.25f32; TOKENS * QKV_ROW];
    let p = vec![0.5f32; TOKENS * TOKENS];
    for cs in cases() {
        let mut c = vec![0.0f32; cs.m * cs.n];
        group.throughput(Throughput::Elements(2 * (cs.m * cs.n * cs.k * CALLS) as u64));
        for peer in PEERS {
            group
                .bench_function(format!("{peer}/{}", cs.id), |bch| bch.iter(|| one_layer(peer, &cs, &qkv, &p, &mut c)));
        }
    }
    group.finish();
}

/// Prints GFLOP/s of ours and of the `gemm` crate on each case, best of `rounds` interleaved batches.
pub fn quick(rounds: usize, thread_seconds: fn() -> f64) {
    println!("attn: one thread each, best of {rounds} interleaved batches of {CALLS} calls, GFLOP/s");
    let qkv = vec![0.25f32; TOKENS * QKV_ROW];
    let p = vec![0.5f32; TOKENS * TOKENS];
    for cs in cases() {
        let mut c = vec![0.0f32; cs.m * cs.n];
        let mut best = [f64::INFINITY; 2];
        for _ in 0..rounds {
            for (i, peer) in PEERS.iter().enumerate() {
                let t = thread_seconds();
                one_layer(peer, &cs, &qkv, &p, &mut c);
                best[i] = best[i].min(thread_seconds() - t);
            }
        }
        let flops = 2.0 * (cs.m * cs.n * cs.k * CALLS) as f64;
        let g = |t: f64| flops / t / 1e9;
        println!(
            "{:<14} {}×{}×{}  ours {:6.1}  gemm {:6.1}  ours/gemm {:.3}",
            cs.name,
            cs.m,
            cs.n,
            cs.k,
            g(best[0]),
            g(best[1]),
            best[1] / best[0]
        );
    }
}
