//! `Linear` and `LayerNorm`, the two layers every other one is built from.

use autograd::{Param, ParamStore, Var};
use tensor::{DType, Tensor};

use super::init;

/// y = x·Wᵀ + b with W stored [out, in], as PyTorch stores it (so official weights load as they are).
pub struct Linear {
    pub weight: Param,
    pub bias: Option<Param>,
}

impl Linear {
    /// Registers `{name}.weight` (Xavier uniform) and, with `bias`, `{name}.bias` (zeros).
    pub fn new(store: &mut ParamStore, name: &str, inp: usize, out: usize, bias: bool, seed: u64) -> Linear {
        let wname = format!("{name}.weight");
        let weight = store.insert(&wname, init::xavier_uniform(out, inp, init::param_seed(seed, &wname)));
        let bias = bias.then(|| store.insert(format!("{name}.bias"), Tensor::zeros([out], DType::F32)));
        Linear { weight, bias }
    }

    pub fn forward(&self, x: &Var) -> Var {
        x.linear(&self.weight.var(), self.bias.as_ref().map(Param::var).as_ref())
    }
}

/// Layer norm over the last dim with weight (ones) and bias (zeros).
pub struct LayerNorm {
    pub weight: Param,
    pub bias: Param,
    pub eps: f64,
}

/// The LayerNorm epsilon of every CAE model.
pub const LN_EPS: f64 = 1e-6;

impl LayerNorm {
    pub fn new(store: &mut ParamStore, name: &str, dim: usize) -> LayerNorm {
        LayerNorm {
            weight: store.insert(format!("{name}.weight"), Tensor::ones([dim], DType::F32)),
            bias: store.insert(format!("{name}.bias"), Tensor::zeros([dim], DType::F32)),
            eps: LN_EPS,
        }
    }

    pub fn forward(&self, x: &Var) -> Var {
        x.layer_norm(Some(&self.weight.var()), Some(&self.bias.var()), self.eps)
    }
}

/// fc2(GELU(fc1(x))), hidden width `hidden`.
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Mlp {
    pub fn new(store: &mut ParamStore, name: &str, dim: usize, hidden: usize, seed: u64) -> Mlp {
        Mlp {
            fc1: Linear::new(store, &format!("{name}.fc1"), dim, hidden, true, seed),
            fc2: Linear::new(store, &format!("{name}.fc2"), hidden, dim, true, seed),
        }
    }

    pub fn forward(&self, x: &Var) -> Var {
        self.fc2.forward(&self.fc1.forward(x).gelu())
    }
}
