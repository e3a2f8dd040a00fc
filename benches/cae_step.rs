//! One CAE training step (forward, backward, AdamW) on the CPU: CAE-Tiny and CAE-Small at 224×224,
//! batch 16, 98 of 196 patches masked, 8192-way token head; images/s and effective GFLOP/s (FLOPs
//! counted per layer, `cae::flops`), beside the same step in PyTorch CPU eager
//! (benches/torch_cae_step.py, the spec-written model of the parity fixture) in the same run.
//!
//! Run: `TORCH_PYTHON=/tmp/torchenv/bin/python cargo bench --bench cae_step` (a few minutes).

#[path = "common/torch_peer.rs"]
mod torch_peer;

use std::sync::Mutex;
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
const TORCH_ITERS: usize = 5;

static SAMPLE_SECS: Mutex<Vec<(String, f64)>> = Mutex::new(Vec::new());

fn bench(c: &mut Criterion, name: &str, cfg: &CaeConfig) {
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
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                step_no += 1;
                let out = model.forward(&images, &mask, TargetValues::Tokens(&ids), Some(step_no));
                out.loss.backward();
                opt.step(&model.params, LR, 1.0);
            }
            let secs = start.elapsed();
            SAMPLE_SECS.lock().unwrap().push((name.to_string(), secs.as_secs_f64() / iters as f64));
            secs
        })
    });
    group.finish();
}

fn main() {
    rayon::ThreadPoolBuilder::new().num_threads(THREADS).build_global().expect("rayon pool");
    let configs = [("cae-tiny", CaeConfig::tiny()), ("cae-small", CaeConfig::small())];
    let mut c = Criterion::default().configure_from_args();
    for (name, cfg) in &configs {
        bench(&mut c, name, cfg);
    }
    c.final_summary();
    println!(
        "\n{:<10} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8} {:>7}",
        "model", "ours ms", "torch ms", "ratio", "ours im/s", "torch im/s", "ours GF/s", "torch GF/s"
    );
    for (name, cfg) in &configs {
        let all: Vec<f64> = SAMPLE_SECS.lock().unwrap().iter().filter(|(n, _)| n == name).map(|(_, s)| *s).collect();
        let mut secs = all[all.len().saturating_sub(SAMPLES)..].to_vec();
        secs.sort_by(f64::total_cmp);
        let Some(&ours) = secs.get(secs.len() / 2) else { continue }; // filtered out by a criterion argument
        let flops = StepFlops::new(cfg).training_step() * BATCH as f64;
        let args = [
            ("--dim", cfg.dim),
            ("--depth", cfg.depth),
            ("--heads", cfg.heads),
            ("--batch", BATCH),
            ("--masked", cfg.num_masked),
            ("--vocab", 8192),
            ("--threads", THREADS),
            ("--warmup", TORCH_WARMUP),
            ("--iters", TORCH_ITERS),
        ]
        .map(|(k, v)| (k, v.to_string()));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/torch_cae_step.py");
        let torch = torch_peer::torch_times_ms(script, "torch_cae_step", &args);
        let (ours_ms, per_s) = (ours * 1e3, |ms: f64| BATCH as f64 / (ms / 1e3));
        let gf = |ms: f64| flops / (ms / 1e3) / 1e9;
        match torch {
            Ok((t, _, _)) => println!(
                "{name:<10} {ours_ms:>9.0} {t:>9.0} {:>8.2} {:>9.1} {:>9.1} {:>8.1} {:>7.1}",
                ours_ms / t,
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
    println!("(batch {BATCH}, 224×224, 98 of 196 masked, 8192-way head, {THREADS} threads; median step)");
}
