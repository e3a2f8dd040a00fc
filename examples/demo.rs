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

struct Block {
    embed: (Tensor, Tensor),
    qkv: (Tensor, Tensor),
    proj: (Tensor, Tensor),
    fc1: (Tensor, Tensor),
    fc2: (Tensor, Tensor),
}

/// Patch embedding and one pre-norm block; prints each step's time when `show` is set.
fn forward(images: &Tensor, w: &Block, show: bool) -> (Tensor, Tensor) {
    let step = |what: &str, f: &mut dyn FnMut() -> Tensor| if show { timed(what, f) } else { f() };
    let n = (IMAGE / PATCH).pow(2);
    let head_dim = WIDTH / HEADS;
    let patches = step("patchify [B, 196, 768]", &mut || images.patchify(PATCH));
    let x = step("patch embedding [B, N, D]", &mut || apply(&patches, &w.embed));
    let h = step("layer norm", &mut || x.layer_norm(None, None, 1e-6));
    let qkv_out = step("qkv projection [B, N, 3D]", &mut || apply(&h, &w.qkv));
    // [B, N, 3, H, Dh] → [3, B, H, N, Dh]: three views, no copy.
    let split = qkv_out.reshape([BATCH, n, 3, HEADS, head_dim]).permute(&[2, 0, 3, 1, 4]);
    let (q, k, v) =
        (split.narrow(0, 0, 1).squeeze(0), split.narrow(0, 1, 1).squeeze(0), split.narrow(0, 2, 1).squeeze(0));
    let scores =
        step("scores q·kᵀ/√d [B, H, N, N]", &mut || q.matmul(&k.t()).mul_scalar(1.0 / (head_dim as f64).sqrt()));
    let attn = step("softmax over keys", &mut || scores.softmax(-1));
    let ctx = step("attn·v, heads merged [B, N, D]", &mut || {
        attn.matmul(&v).permute(&[0, 2, 1, 3]).reshape([BATCH, n, WIDTH])
    });
    let x = step("output projection + residual", &mut || &x + &apply(&ctx, &w.proj));
    let h = step("layer norm", &mut || x.layer_norm(None, None, 1e-6));
    let m = step("fc1 + GELU [B, N, 4D]", &mut || apply(&h, &w.fc1).gelu());
    let x = step("fc2 + residual", &mut || &x + &apply(&m, &w.fc2));
    (x, attn)
}

fn main() {
    println!("tensor demo: one ViT-Small block forward, batch {BATCH}, {IMAGE}×{IMAGE} images");
    println!("  GEMM micro-kernel: {}, threads: {}", Kernel::best().name(), rayon::current_num_threads());
    let n = (IMAGE / PATCH).pow(2);
    let images = Tensor::rand_uniform([BATCH, CHANNELS, IMAGE, IMAGE], 0.0, 1.0, DType::F32, 0);
    let weights = Block {
        embed: linear(WIDTH, CHANNELS * PATCH * PATCH, 1),
        qkv: linear(3 * WIDTH, WIDTH, 2),
        proj: linear(WIDTH, WIDTH, 3),
        fc1: linear(MLP, WIDTH, 4),
        fc2: linear(WIDTH, MLP, 5),
    };
    // A first pass warms the allocator and the GEMM's packing buffers; the second is timed.
    forward(&images, &weights, false);
    println!("second pass, step by step:");
    let total = Instant::now();
    let (x, attn) = forward(&images, &weights, true);
    let secs = total.elapsed().as_secs_f64();

    println!("block output: {x:?}");
    let flops = 2.0 * (BATCH * n) as f64 * (CHANNELS * PATCH * PATCH * WIDTH + 12 * WIDTH * WIDTH) as f64
        + 4.0 * (BATCH * HEADS * n * n * (WIDTH / HEADS)) as f64;
    println!("total {:.1} ms, {:.1} GFLOP/s over the matrix products", secs * 1e3, flops / secs / 1e9);
    let row_sums = attn.sum(&[-1], false);
    println!("attention rows sum to 1: max |Σ − 1| = {:.2e}", row_sums.sub_scalar(1.0).abs().max(&[], false).item());
}
