//! One CAE training step (forward, backward, AdamW) on the CPU: CAE-Tiny and CAE-Small at 224×224,
//! batch 16, 98 of 196 patches masked, 8192-way token head; images/s and effective GFLOP/s (FLOPs
//! counted per layer, `cae::flops`), beside the same step in PyTorch CPU eager
//! (benches/torch_cae_step.py, the spec-written model of the parity fixture) in the same run.
//!
//! Criterion times our step first. The comparison then alternates: one step of ours, one of
//! PyTorch's (kept running, warmed up, in its `--serve` mode), `PAIRS` times, and reports the median
//! of each side and the median of the per-pair ratios. On a shared machine the speed drifts by 10–20%
//! within minutes, so two medians taken minutes apart compare worse than pairs taken seconds apart.
//!
//! Run: `TORCH_PYTHON=/tmp/torchenv/bin/python cargo bench --bench cae_step` (a few minutes).

#[path = "common/torch_peer.rs"]
mod torch_peer;

use std::time::{Duration, Instant};

use cae::flops::StepFlops;
use cae::masking::{batch_masks, MaskSpec};
use cae::optim::{AdamW, AdamWConfig};
use cae::{Cae, CaeConfig, TargetValues};
use criterion::{Criterion, SamplingMode};
use tensor::{DType, Tensor};

const BATCH: usize = 16;
const THREADS: usize = 2;
const SAMPLES: usize = 10;
const LR: f64 = 1.5e-3;
const TORCH_WARMUP: usize = 2;
/// Alternated steps per side.
const PAIRS: usize = 8;
/// Rest between the two sides of a pair: PyTorch's OpenMP threads spin for a while after a step,
/// and must not take the cores from ours.
const SETTLE: Duration = Duration::from_millis(300);

/// One model's comparison: median step of ours and PyTorch's (ms) and the median per-pair ratio.
struct Paired {
    ours_ms: f64,
    torch: Result<(f64, f64), String>,
}

fn bench(c: &mut Criterion, name: &str, cfg: &CaeConfig) -> Option<Paired> {
    let model = Cae::new(cfg.clone(), 0);
    let mut opt = AdamW::new(&model.params, AdamWConfig::default());
    let g = cfg.grid();
    let images = Tensor::rand_uniform([BATCH, 3, 224, 224], 0.0, 1.0, DType::F32, 1);
    let mask = batch_masks(&MaskSpec::new(g, g, cfg.num_masked), BATCH, 2, true);
    let ids = Tensor::rand_uniform([BATCH, g * g], 0.0, 8192.0, DType::F64, 3).to_dtype(DType::I64);
    let mut step_no = 0u64;
    let mut group = c.benchmark_group("cae_step");
    group.sample_size(SAMPLES).sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(5));
    let mut step = || {
        step_no += 1;
        let out = model.forward(&images, &mask, TargetValues::Tokens(&ids), Some(step_no));
        out.loss.backward();
        opt.step(&model.params, LR, 1.0);
    };
    let mut ran = false;
    group.bench_function(name, |b| {
        ran = true;
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                step();
            }
            start.elapsed()
        })
    });
    group.finish();
    if !ran {
        return None; // filtered out by a criterion argument
    }
    let timed = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed().as_secs_f64() * 1e3
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/torch_cae_step.py");
    let (mut ours, mut torch, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut server = torch_peer::TorchServer::start(script, &torch_args(cfg));
    for pair in 0..PAIRS {
        let Ok(peer) = server.as_mut() else {
            ours.push(timed(&mut step));
            continue;
        };
        // Alternate which side goes first, so neither always follows the other's cache state.
        let (o, t) = if pair % 2 == 0 {
            let o = timed(&mut step);
            std::thread::sleep(SETTLE);
            (o, peer.step_ms())
        } else {
            let t = peer.step_ms();
            std::thread::sleep(SETTLE);
            (timed(&mut step), t)
        };
        std::thread::sleep(SETTLE);
        match t {
            Ok(t) => {
                println!("  {name} pair {pair}: ours {o:.0} ms, pytorch {t:.0} ms");
                ratios.push(o / t);
                torch.push(t);
            }
            Err(e) => server = Err(e),
        }
        ours.push(o);
    }
    let torch = match server {
        Ok(_) => Ok((median(&mut torch), median(&mut ratios))),
        Err(e) => Err(e),
    };
    Some(Paired { ours_ms: median(&mut ours), torch })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The peer script's flags for the same model, batch and thread count.
fn torch_args(cfg: &CaeConfig) -> Vec<(&'static str, String)> {
    [
        ("--dim", cfg.dim),
        ("--depth", cfg.depth),
        ("--heads", cfg.heads),
        ("--batch", BATCH),
        ("--masked", cfg.num_masked),
        ("--vocab", 8192),
        ("--threads", THREADS),
        ("--warmup", TORCH_WARMUP),
        ("--iters", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

fn main() {
    rayon::ThreadPoolBuilder::new().num_threads(THREADS).build_global().expect("rayon pool");
    let configs = [("cae-tiny", CaeConfig::tiny()), ("cae-small", CaeConfig::small())];
    let mut c = Criterion::default().configure_from_args();
    let results: Vec<_> = configs.iter().map(|(name, cfg)| bench(&mut c, name, cfg)).collect();
    c.final_summary();
    println!(
        "\n{:<10} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8} {:>7}",
        "model", "ours ms", "torch ms", "ratio", "ours im/s", "torch im/s", "ours GF/s", "torch GF/s"
    );
    for ((name, cfg), paired) in configs.iter().zip(results) {
        let Some(Paired { ours_ms, torch }) = paired else { continue };
        let flops = StepFlops::new(cfg).training_step() * BATCH as f64;
        let per_s = |ms: f64| BATCH as f64 / (ms / 1e3);
        let gf = |ms: f64| flops / (ms / 1e3) / 1e9;
        match torch {
            Ok((t, ratio)) => println!(
                "{name:<10} {ours_ms:>9.0} {t:>9.0} {ratio:>8.2} {:>9.1} {:>9.1} {:>8.1} {:>7.1}",
                per_s(ours_ms),
                per_s(t),
                gf(ours_ms),
                gf(t)
            ),
            Err(why) => {
                println!(
                    "{name:<10} {ours_ms:>9.0} {:>9} {:>8} {:>9.1} {:>9} {:>8.1}",
                    "-",
                    "-",
                    per_s(ours_ms),
                    "-",
                    gf(ours_ms)
                );
                println!("  pytorch peer unavailable: {why}\n  {}", torch_peer::INSTALL_HINT);
            }
        }
    }
    println!(
        "(batch {BATCH}, 224×224, 98 of 196 masked, 8192-way head, {THREADS} threads; medians of {PAIRS} \
         alternated steps; ratio = median of ours/torch per pair, below 1 means ours is faster)"
    );
}
