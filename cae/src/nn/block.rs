//! Transformer blocks with layer scale and drop path: the pre-norm self-attention block of the
//! encoder and decoder, and the regressor's cross-attention block with its post-norm.

use autograd::{drop_path, Param, ParamStore, Var};
use tensor::{DType, Tensor};

use super::init::param_seed;
use super::{Attention, CrossAttention, LayerNorm, Mlp};

/// Hidden width of every MLP relative to the model width.
pub const MLP_RATIO: usize = 4;

fn gamma(store: &mut ParamStore, name: String, dim: usize, init_value: f64) -> Param {
    store.insert(name, Tensor::full([dim], init_value, DType::F32))
}

/// The drop-path seeds of a block's two residual branches for this step (`None` in evaluation).
fn branch_seeds(drop: Option<u64>, stream: u64) -> Option<(u64, u64)> {
    drop.map(|s| (s ^ stream, (s ^ stream).wrapping_add(1)))
}

/// `x + drop_path(γ ⊙ branch)`; `drop` is `Some(seed)` in training, `None` in evaluation.
fn residual(x: &Var, gamma: &Param, branch: &Var, rate: f64, drop: Option<u64>) -> Var {
    let scaled = branch.mul(&gamma.var());
    let kept = match drop {
        Some(seed) if rate > 0.0 => drop_path(&scaled, rate, seed),
        _ => scaled,
    };
    x.add(&kept)
}

/// `x = x + γ1·Attn(LN1(x))`, `x = x + γ2·MLP(LN2(x))`, each branch with drop path.
pub struct Block {
    pub norm1: LayerNorm,
    pub attn: Attention,
    pub gamma_1: Param,
    pub norm2: LayerNorm,
    pub mlp: Mlp,
    pub gamma_2: Param,
    pub drop_path: f64,
    /// Distinguishes this block's drop-path draws from the other blocks'.
    stream: u64,
}

impl Block {
    pub fn new(
        store: &mut ParamStore,
        name: &str,
        dim: usize,
        heads: usize,
        init_value: f64,
        drop_path: f64,
        seed: u64,
    ) -> Block {
        Block {
            norm1: LayerNorm::new(store, &format!("{name}.norm1"), dim),
            attn: Attention::new(store, &format!("{name}.attn"), dim, heads, seed),
            gamma_1: gamma(store, format!("{name}.gamma_1"), dim, init_value),
            norm2: LayerNorm::new(store, &format!("{name}.norm2"), dim),
            mlp: Mlp::new(store, &format!("{name}.mlp"), dim, MLP_RATIO * dim, seed),
            gamma_2: gamma(store, format!("{name}.gamma_2"), dim, init_value),
            drop_path,
            stream: param_seed(0, name),
        }
    }

    /// x [B, N, D] → [B, N, D]. `drop`: the step's drop-path seed, or `None` to keep every branch.
    pub fn forward(&self, x: &Var, drop: Option<u64>) -> Var {
        let seeds = branch_seeds(drop, self.stream);
        let x =
            residual(x, &self.gamma_1, &self.attn.forward(&self.norm1.forward(x)), self.drop_path, seeds.map(|s| s.0));
        residual(&x, &self.gamma_2, &self.mlp.forward(&self.norm2.forward(&x)), self.drop_path, seeds.map(|s| s.1))
    }
}

/// The regressor's block: queries attend over [visible latents, queries]; then a post-norm and
/// an MLP. `x = q + γ1·CrossAttn(LN_q(q + pos_q), LN_k(kv + pos_kv), LN_v(kv))`, `x = LN2(x)`,
/// `x = x + γ2·MLP(x)`.
pub struct CrossBlock {
    pub norm1_q: LayerNorm,
    pub norm1_k: LayerNorm,
    pub norm1_v: LayerNorm,
    pub cross_attn: CrossAttention,
    pub gamma_1_cross: Param,
    pub norm2_cross: LayerNorm,
    pub mlp_cross: Mlp,
    pub gamma_2_cross: Param,
    pub drop_path: f64,
    stream: u64,
}

impl CrossBlock {
    pub fn new(
        store: &mut ParamStore,
        name: &str,
        dim: usize,
        heads: usize,
        init_value: f64,
        drop_path: f64,
        seed: u64,
    ) -> CrossBlock {
        CrossBlock {
            norm1_q: LayerNorm::new(store, &format!("{name}.norm1_q"), dim),
            norm1_k: LayerNorm::new(store, &format!("{name}.norm1_k"), dim),
            norm1_v: LayerNorm::new(store, &format!("{name}.norm1_v"), dim),
            cross_attn: CrossAttention::new(store, &format!("{name}.cross_attn"), dim, heads, seed),
            gamma_1_cross: gamma(store, format!("{name}.gamma_1_cross"), dim, init_value),
            norm2_cross: LayerNorm::new(store, &format!("{name}.norm2_cross"), dim),
            mlp_cross: Mlp::new(store, &format!("{name}.mlp_cross"), dim, MLP_RATIO * dim, seed),
            gamma_2_cross: gamma(store, format!("{name}.gamma_2_cross"), dim, init_value),
            drop_path,
            stream: param_seed(0, name),
        }
    }

    /// Queries [B, Nm, D] with positions [B or 1, Nm, D]; keys/values [B, Nk, D] with positions
    /// [B or 1, Nk, D] → [B, Nm, D].
    pub fn forward(&self, q: &Var, pos_q: &Var, kv: &Var, pos_kv: &Var, drop: Option<u64>) -> Var {
        let seeds = branch_seeds(drop, self.stream);
        let attended = self.cross_attn.forward(
            &self.norm1_q.forward(&q.add(pos_q)),
            &self.norm1_k.forward(&kv.add(pos_kv)),
            &self.norm1_v.forward(kv),
        );
        let x = residual(q, &self.gamma_1_cross, &attended, self.drop_path, seeds.map(|s| s.0));
        let x = self.norm2_cross.forward(&x);
        residual(&x, &self.gamma_2_cross, &self.mlp_cross.forward(&x), self.drop_path, seeds.map(|s| s.1))
    }
}
