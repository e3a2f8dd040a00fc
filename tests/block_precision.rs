//! End-to-end check of the tensor stack: a pre-norm transformer block's forward pass computed in
//! f32 (vectorised math, the BLIS GEMM, parallel kernels) agrees with the same pass in f64 (std
//! math, the f64 GEMM) to f32 accuracy, on input read through views (transposes, head splits).

use tensor::{DType, Tensor};

const B: usize = 2;
const N: usize = 17;
const D: usize = 48;
const HEADS: usize = 4;

struct Weights {
    qkv: Tensor,
    proj: Tensor,
    fc1: Tensor,
    fc2: Tensor,
    ln_w: Tensor,
    ln_b: Tensor,
}

fn weights(dtype: DType) -> Weights {
    let w =
        |shape: [usize; 2], seed| Tensor::trunc_normal(shape, 0.0, 0.2, -0.4, 0.4, DType::F64, seed).to_dtype(dtype);
    Weights {
        qkv: w([3 * D, D], 1),
        proj: w([D, D], 2),
        fc1: w([4 * D, D], 3),
        fc2: w([D, 4 * D], 4),
        ln_w: Tensor::randn([D], 1.0, 0.1, DType::F64, 5).to_dtype(dtype),
        ln_b: Tensor::randn([D], 0.0, 0.1, DType::F64, 6).to_dtype(dtype),
    }
}

fn block(x: &Tensor, w: &Weights) -> Tensor {
    let dh = D / HEADS;
    let h = x.layer_norm(Some(&w.ln_w), Some(&w.ln_b), 1e-6);
    let qkv = h.matmul(&w.qkv.t()).reshape([B, N, 3, HEADS, dh]).permute(&[2, 0, 3, 1, 4]); // [3, B, H, N, dh]
    let (q, k, v) = (qkv.narrow(0, 0, 1).squeeze(0), qkv.narrow(0, 1, 1).squeeze(0), qkv.narrow(0, 2, 1).squeeze(0));
    let attn = q.matmul(&k.t()).mul_scalar(1.0 / (dh as f64).sqrt()).softmax(-1); // [B, H, N, N]
    let ctx = attn.matmul(&v).permute(&[0, 2, 1, 3]).reshape([B, N, D]);
    let x = x + &ctx.matmul(&w.proj.t());
    let h = x.layer_norm(Some(&w.ln_w), Some(&w.ln_b), 1e-6);
    &x + &h.matmul(&w.fc1.t()).gelu().matmul(&w.fc2.t())
}

#[test]
fn f32_block_matches_f64_block() {
    // Input arrives transposed ([B, D, N] storage), as a view.
    let x64 = Tensor::randn([B, D, N], 0.0, 1.0, DType::F64, 0).transpose(1, 2);
    let y64 = block(&x64, &weights(DType::F64)).to_vec::<f64>();
    let y32 = block(&x64.to_dtype(DType::F32), &weights(DType::F32)).to_vec_f64();
    assert!(y32.iter().chain(&y64).all(|v| v.is_finite()), "the block produced a non-finite value");
    let scale = y64.iter().map(|v| v.abs()).fold(0.0, f64::max);
    let worst = y64.iter().zip(&y32).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 2e-5 * scale, "f32 block differs from f64 by {worst} (scale {scale})");
    // And the block did something: output differs from input.
    let x = x64.to_vec::<f64>();
    assert!(x.iter().zip(&y64).any(|(a, b)| (a - b).abs() > 0.1));
}
