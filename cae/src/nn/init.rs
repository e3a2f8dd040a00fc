//! Parameter initialisation as the CAE spec prescribes, seeded per parameter *name*: a
//! parameter's initial value depends on (seed, name) only, not on the order layers are built in.

use tensor::{DType, Tensor};

/// Standard deviation of the truncated-normal init of tokens and the patch embedding.
pub const TOKEN_INIT_STD: f64 = 0.02;

/// The seed of one parameter: FNV-1a of its name, mixed with the model seed.
pub fn param_seed(seed: u64, name: &str) -> u64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let h = name.bytes().fold(FNV_OFFSET, |h, b| (h ^ b as u64).wrapping_mul(FNV_PRIME));
    h ^ seed.rotate_left(17)
}

/// Xavier (Glorot) uniform for a Linear weight [out, in]: U(−a, a), a = √(6 / (in + out)).
pub fn xavier_uniform(out: usize, inp: usize, seed: u64) -> Tensor {
    let a = (6.0 / (inp + out) as f64).sqrt();
    Tensor::rand_uniform([out, inp], -a, a, DType::F32, seed)
}

/// Truncated normal N(0, std²) on [−2, 2] (timm's `trunc_normal_` default bounds).
pub fn trunc_normal(shape: &[usize], std: f64, seed: u64) -> Tensor {
    Tensor::trunc_normal(shape.to_vec(), 0.0, std, -2.0, 2.0, DType::F32, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_depend_on_name_and_seed() {
        assert_ne!(
            param_seed(0, "encoder.blocks.0.attn.qkv.weight"),
            param_seed(0, "encoder.blocks.1.attn.qkv.weight")
        );
        assert_ne!(param_seed(0, "a"), param_seed(1, "a"));
        assert_eq!(param_seed(5, "a"), param_seed(5, "a"));
    }

    #[test]
    fn xavier_bounds() {
        let w = xavier_uniform(30, 10, 1).to_vec::<f32>();
        let a = (6.0f32 / 40.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= a) && w.iter().any(|v| v.abs() > 0.9 * a));
    }
}
