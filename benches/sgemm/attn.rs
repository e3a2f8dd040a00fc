//! The `attn` group: the small per-head products of ViT attention, forward and backward, one matrix
//! per thread, as the attention op (`tensor::cpu::attention`) runs them: `Parallelism::None`, q, k
//! and v read in place from the fused qkv buffer `[N, 3, H, d]`, the output gradient from the merged
//! heads `[N, H, d]`, the probabilities and their gradient dense `[N, N]`.
//!
//! Shapes: 12 heads of width 16 (CAE-Tiny) and 32 (CAE-Small), at 99 tokens (the encoder of the CAE
//! step benchmark: 98 visible patches and cls) and 197 (a whole 14×14 image and cls).
//!
//! Run: `SGEMM_BENCH_ATTN=200 cargo bench --bench sgemm` (rounds: ours vs the `gemm` crate on one
//! thread, timed by this thread's CPU clock; best round and median per-round ratio), or through
//! criterion: `cargo bench --bench sgemm -- attn`.

use criterion::{Criterion, Throughput};
use tensor::cpu::gemm::{sgemm, MatMut, MatRef, Parallelism};

const HEADS: usize = 12;
const HEAD_DIMS: [usize; 2] = [16, 32];
const TOKENS: [usize; 2] = [99, 197];

/// Where an operand lives, per head `h` of width `d` at `tokens` tokens.
#[derive(Clone, Copy)]
enum Src {
    /// Part `0` (q), `1` (k) or `2` (v) of the fused qkv rows.
    Qkv(usize),
    /// The output gradient, heads merged.
    Dout,
    /// A dense `tokens × tokens` matrix (probabilities, or the scores' gradient).
    Square,
}

/// One operand: where it lives, and whether the product reads it transposed.
#[derive(Clone, Copy)]
struct Operand {
    src: Src,
    t: bool,
}

const fn op(src: Src, t: bool) -> Operand {
    Operand { src, t }
}

/// One product `C = A·B` (C dense, row-major); its dimensions follow from the operands.
struct Case {
    id: &'static str,
    name: &'static str,
    a: Operand,
    b: Operand,
}

const CASES: [Case; 6] = [
    Case { id: "scores", name: "S = q·kᵀ", a: op(Src::Qkv(0), false), b: op(Src::Qkv(1), true) },
    Case { id: "pv", name: "O = P·v", a: op(Src::Square, false), b: op(Src::Qkv(2), false) },
    Case { id: "dv", name: "dv = Pᵀ·dO", a: op(Src::Square, true), b: op(Src::Dout, false) },
    Case { id: "dp", name: "dP = dO·vᵀ", a: op(Src::Dout, false), b: op(Src::Qkv(2), true) },
    Case { id: "dq", name: "dq = dS·k", a: op(Src::Square, false), b: op(Src::Qkv(1), false) },
    Case { id: "dk", name: "dk = dSᵀ·q", a: op(Src::Square, true), b: op(Src::Qkv(0), false) },
];

/// The buffers one attention layer's products read, for one image.
struct Layer {
    tokens: usize,
    d: usize,
    qkv: Vec<f32>,
    dout: Vec<f32>,
    square: Vec<f32>,
}

impl Layer {
    fn new(tokens: usize, d: usize) -> Layer {
        Layer {
            tokens,
            d,
            qkv: vec![0.25; tokens * 3 * HEADS * d],
            dout: vec![0.5; tokens * HEADS * d],
            square: vec![0.125; tokens * tokens],
        }
    }

    /// Operand `o` of head `h` as a view (rows × cols of the product's operand).
    fn view(&self, o: Operand, h: usize) -> MatRef<'_, f32> {
        let (n, d) = (self.tokens, self.d);
        let (data, offset, rows, cols, rs) = match o.src {
            Src::Qkv(part) => (&self.qkv[..], (part * HEADS + h) * d, n, d, 3 * HEADS * d),
            Src::Dout => (&self.dout[..], h * d, n, d, HEADS * d),
            Src::Square => (&self.square[..], 0, n, n, n),
        };
        let m = MatRef { data, offset, rows, cols, rs, cs: 1 };
        if o.t {
            m.t()
        } else {
            m
        }
    }

    fn dims(&self, cs: &Case) -> (usize, usize, usize) {
        let (a, b) = (self.view(cs.a, 0), self.view(cs.b, 0));
        (a.rows, b.cols, a.cols)
    }

    fn flops(&self, cs: &Case) -> f64 {
        let (m, n, k) = self.dims(cs);
        2.0 * (m * n * k * HEADS) as f64
    }

    /// One call per head, as one attention layer makes them.
    fn run(&self, peer: &str, cs: &Case, c: &mut [f32]) {
        for h in 0..HEADS {
            let (a, b) = (self.view(cs.a, h), self.view(cs.b, h));
            let (m, n) = (a.rows, b.cols);
            match peer {
                "ours" => sgemm(1.0, a, b, 0.0, MatMut::row_major(&mut c[..m * n], m, n), Parallelism::None),
                "gemm" => super::gemm_crate(
                    m,
                    n,
                    a.cols,
                    &a.data[a.offset..],
                    (a.rs, a.cs),
                    &b.data[b.offset..],
                    (b.rs, b.cs),
                    c,
                    1,
                ),
                _ => unreachable!(),
            }
        }
    }
}

const PEERS: [&str; 2] = ["ours", "gemm"];

/// Every (head width, tokens) layer.
fn layers() -> impl Iterator<Item = Layer> {
    HEAD_DIMS.into_iter().flat_map(|d| TOKENS.into_iter().map(move |n| Layer::new(n, d)))
}

/// The same products under criterion (group `attn`; throughput in FLOP/s).
pub fn bench(cr: &mut Criterion) {
    let mut group = cr.benchmark_group("attn");
    for layer in layers() {
        let mut c = vec![0.0f32; layer.tokens * layer.tokens];
        for cs in &CASES {
            group.throughput(Throughput::Elements(layer.flops(cs) as u64));
            for peer in PEERS {
                let id = format!("{peer}/{}.d{}.n{}", cs.id, layer.d, layer.tokens);
                group.bench_function(id, |bch| bch.iter(|| layer.run(peer, cs, &mut c)));
            }
        }
    }
    group.finish();
}

/// Prints GFLOP/s of ours and of the `gemm` crate on each case, best of `rounds` interleaved batches,
/// and the median over rounds of the per-round speed ratio.
pub fn quick(rounds: usize, thread_seconds: fn() -> f64) {
    println!("attn: one thread each, {rounds} interleaved batches of {HEADS} calls (one per head), GFLOP/s");
    for layer in layers() {
        let mut c = vec![0.0f32; layer.tokens * layer.tokens];
        for cs in &CASES {
            let mut times: [Vec<f64>; 2] = Default::default();
            for _ in 0..rounds {
                for (i, peer) in PEERS.iter().enumerate() {
                    let t = thread_seconds();
                    layer.run(peer, cs, &mut c);
                    times[i].push(thread_seconds() - t);
                }
            }
            let best = times.each_ref().map(|t| t.iter().copied().fold(f64::INFINITY, f64::min));
            let g = |t: f64| layer.flops(cs) / t / 1e9;
            let (m, n, k) = layer.dims(cs);
            println!(
                "d {:>2} {:<12} {:>3}×{:>3}×{:>3}  ours {:6.1}  gemm {:6.1}  paired ours/gemm {:.3}",
                layer.d,
                cs.name,
                m,
                n,
                k,
                g(best[0]),
                g(best[1]),
                super::median_ratio(&times[1], &times[0])
            );
        }
    }
}
