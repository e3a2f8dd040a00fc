//! A tour of the `tensor` crate: one pre-norm ViT block's forward pass on a random image batch,
//! written with the crate's ops, with the shape at every line and the time each step takes.
//!
//! Run: `cargo run --release --example demo`

use std::time::Instant;

use tensor::cpu::gemm::Kernel;
use tensor::{DType, Tensor};

const BATCH: usize = 8;
const CHANNELS: usize = 3;
const IMAGE: usize = 224;
const PATCH: usize = 16;
const WIDTH: usize = 384; // ViT-Small
const HEADS: usize = 12;
const MLP: usize = 4 * WIDTH;

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    println!("  {what:<44} {:>8.2} ms", start.elapsed().as_secs_f64() * 1e3);
    out
}

/// A Linear layer's weight [out, in] and bias [out], initialised like timm (truncated normal, std 0.02).
fn linear(out: usize, inp: usize, seed: u64) -> (Tensor, Tensor) {
    let w = Tensor::trunc_normal([out, inp], 0.0, 0.02, -2.0, 2.0, DType::F32, seed);
    (w, Tensor::zeros([out], DType::F32))
}

fn apply(x: &Tensor, (w, b): &(Tensor, Tensor)) -> Tensor {
    &x.matmul(&w.t()) + b // x · wᵀ + b; w.t() is a view, the GEMM reads it transposed
}

fn main() {
    println!("tensor demo: one ViT-Small block forward, batch {BATCH}, {IMAGE}×{IMAGE} images");
    println!("  GEMM micro-kernel: {}, threads: {}", Kernel::best().name(), rayon::current_num_threads());
    let n = (IMAGE / PATCH).pow(2);
    let images = Tensor::rand_uniform([BATCH, CHANNELS, IMAGE, IMAGE], 0.0, 1.0, DType::F32, 0);
    let embed = linear(WIDTH, CHANNELS * PATCH * PATCH, 1);
    let qkv = linear(3 * WIDTH, WIDTH, 2);
    let proj = linear(WIDTH, WIDTH, 3);
    let (fc1, fc2) = (linear(MLP, WIDTH, 4), linear(WIDTH, MLP, 5));
    let total = Instant::now();

    let patches = timed("patchify [B, 196, 768]", || images.patchify(PATCH));
    let x = timed("patch embedding [B, N, D]", || apply(&patches, &embed));
    let h = timed("layer norm", || x.layer_norm(None, None, 1e-6));
    let qkv_out = timed("qkv projection [B, N, 3D]", || apply(&h, &qkv));
    let head_dim = WIDTH / HEADS;
    // [B, N, 3, H, Dh] → [3, B, H, N, Dh]: three views, no copy.
    let split = qkv_out.reshape([BATCH, n, 3, HEADS, head_dim]).permute(&[2, 0, 3, 1, 4]);
    let (q, k, v) =
        (split.narrow(0, 0, 1).squeeze(0), split.narrow(0, 1, 1).squeeze(0), split.narrow(0, 2, 1).squeeze(0));
    let scores =
        timed("scores q·kᵀ/√d [B, H, N, N]", || q.matmul(&k.t()).mul_scalar(1.0 / (head_dim as f64).sqrt()));
    let attn = timed("softmax over keys", || scores.softmax(-1));
    let ctx =
        timed("attn·v, heads merged [B, N, D]", || attn.matmul(&v).permute(&[0, 2, 1, 3]).reshape([BATCH, n, WIDTH]));
    let x = timed("output projection + residual", || &x + &apply(&ctx, &proj));
    let h = timed("layer norm", || x.layer_norm(None, None, 1e-6));
    let m = timed("fc1 + GELU [B, N, 4D]", || apply(&h, &fc1).gelu());
    let x = timed("fc2 + residual", || &x + &apply(&m, &fc2));
    let secs = total.elapsed().as_secs_f64();

    println!("block output: {x:?}");
    let flops = 2.0 * (BATCH * n) as f64 * (CHANNELS * PATCH * PATCH * WIDTH + 12 * WIDTH * WIDTH) as f64
        + 4.0 * (BATCH * HEADS * n * n * head_dim) as f64;
    println!("total {:.1} ms, {:.1} GFLOP/s over the matrix products", secs * 1e3, flops / secs / 1e9);
    let row_sums = attn.sum(&[-1], false);
    println!("attention rows sum to 1: max |Σ − 1| = {:.2e}", row_sums.sub_scalar(1.0).abs().max(&[], false).item());
}
