//! AdamW with CAE's weight-decay groups: decay on every parameter of two or more dimensions
//! (weights, and the cls and mask tokens), none on biases, norms and layer-scale γ.

use autograd::ParamStore;
use tensor::{AdamWParam, AdamWStep, Device, Tensor};

/// Hyper-parameters of AdamW (the spec's defaults: β = (0.9, 0.999), ε = 1e-8, decay 0.05).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.05 }
    }
}

/// Whether a parameter of this shape is decayed.
pub fn decays(shape: &[usize]) -> bool {
    shape.len() >= 2
}

/// AdamW state: first and second moments per parameter, and the step count.
pub struct AdamW {
    pub config: AdamWConfig,
    pub step: u64,
    moments: Vec<(Tensor, Tensor)>,
}

impl AdamW {
    pub fn new(store: &ParamStore, config: AdamWConfig) -> AdamW {
        let moments = store.iter().map(|(_, p)| (p.value().zeros_like(), p.value().zeros_like())).collect();
        AdamW { config, step: 0, moments }
    }

    /// One update at learning rate `lr` from the accumulated gradients multiplied by `grad_scale`
    /// (1 / accumulation steps, times the clipping factor); parameters without a gradient are left
    /// alone. The gradients are then cleared.
    pub fn step(&mut self, store: &ParamStore, lr: f64, grad_scale: f64) {
        assert_eq!(
            self.moments.len(),
            store.len(),
            "optimiser built for {} parameters, store has {}",
            self.moments.len(),
            store.len()
        );
        self.step += 1;
        let c = self.config;
        let mut todo = Vec::new(); // (index, parameter, gradient, step)
        for (i, (_, p)) in store.iter().enumerate() {
            let Some(g) = p.grad() else { continue };
            let weight_decay = if decays(p.shape().dims()) { c.weight_decay } else { 0.0 };
            let step =
                AdamWStep { lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weight_decay, t: self.step, grad_scale };
            todo.push((i, p, g, step));
        }
        // On a GPU every parameter goes into one launch of the multi-tensor kernel. On the CPU one at
        // a time, so that each parameter's old buffers are recycled for the next one's new values.
        let on_gpu = todo.first().is_some_and(|(_, _, g, _)| g.device() != Device::Cpu);
        let per_call = if on_gpu { todo.len().max(1) } else { 1 };
        for chunk in todo.chunks(per_call) {
            let weights: Vec<Tensor> = chunk.iter().map(|(_, p, ..)| p.value()).collect();
            let params: Vec<AdamWParam> = chunk
                .iter()
                .zip(&weights)
                .map(|((i, _, grad, step), w)| {
                    let (m, v) = &self.moments[*i];
                    AdamWParam { w, grad, m, v, step: *step }
                })
                .collect();
            let new = Tensor::adamw_update_many(&params);
            drop(params);
            drop(weights);
            for ((i, p, ..), (w, m, v)) in chunk.iter().zip(new) {
                self.moments[*i] = (m, v);
                p.set_value(w);
            }
        }
        store.zero_grad();
    }

    /// Moves the moments to `device` (after a restore from a checkpoint, which loads them on the host).
    pub fn to_device(&mut self, device: Device) {
        for (m, v) in &mut self.moments {
            (*m, *v) = (m.to_device(device), v.to_device(device));
        }
    }

    /// The moments as a store named `m.<param>` and `v.<param>`, for checkpoints.
    pub fn state(&self, store: &ParamStore) -> ParamStore {
        let mut out = ParamStore::new();
        for ((name, _), (m, v)) in store.iter().zip(&self.moments) {
            out.insert(format!("m.{name}"), m.clone());
            out.insert(format!("v.{name}"), v.clone());
        }
        out
    }

    /// Restores moments saved by [`AdamW::state`] (loaded into a store of the same layout) and the
    /// step count.
    pub fn restore(&mut self, state: &ParamStore, step: u64) {
        assert_eq!(state.len(), 2 * self.moments.len(), "optimiser state of another model");
        let values: Vec<Tensor> = state.iter().map(|(_, p)| p.value()).collect();
        for (i, (m, v)) in self.moments.iter_mut().enumerate() {
            (*m, *v) = (values[2 * i].clone(), values[2 * i + 1].clone());
        }
        self.step = step;
    }
}

/// The global L2 norm of every accumulated gradient, times `scale`: each tensor's norm comes from the
/// vectorised reduction (no copy of the gradients), and the squares are summed in f64.
pub fn grad_norm(store: &ParamStore, scale: f64) -> f64 {
    let sum: f64 = store.iter().filter_map(|(_, p)| p.grad()).map(|g| g.norm(&[], false).item().powi(2)).sum();
    sum.sqrt() * scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensor::DType;

    #[test]
    fn first_step_moves_each_weight_by_lr_and_decays_only_matrices() {
        let mut store = ParamStore::new();
        let w = store.insert("w", Tensor::full([2, 2], 1.0, DType::F64));
        let b = store.insert("b", Tensor::full([2], 1.0, DType::F64));
        let mut opt = AdamW::new(&store, AdamWConfig::default());
        w.var().sum_all().add(&b.var().mul_scalar(-3.0).sum_all()).backward();
        opt.step(&store, 0.1, 1.0);
        // Step 1: m̂ = g, v̂ = g², so the Adam step is lr·sign(g) (up to ε).
        let wv = w.value().to_vec::<f64>()[0];
        assert!((wv - (1.0 * (1.0 - 0.1 * 0.05) - 0.1)).abs() < 1e-6, "{wv}");
        let bv = b.value().to_vec::<f64>()[0];
        assert!((bv - 1.1).abs() < 1e-6, "bias moves by +lr, no decay: {bv}");
        assert!(w.grad().is_none(), "gradients are cleared");
    }

    #[test]
    fn minimises_a_quadratic() {
        let mut store = ParamStore::new();
        let x = store.insert("x", Tensor::from_vec(vec![3.0f64, -2.0], [2]));
        let mut opt = AdamW::new(&store, AdamWConfig { weight_decay: 0.0, ..AdamWConfig::default() });
        for _ in 0..300 {
            x.var().square().sum_all().backward();
            opt.step(&store, 0.05, 1.0);
        }
        assert!(x.value().to_vec::<f64>().iter().all(|v| v.abs() < 0.05), "{:?}", x.value().to_vec::<f64>());
    }

    #[test]
    fn grad_scale_halves_the_first_moment_and_state_round_trips() {
        let make = || {
            let mut store = ParamStore::new();
            let x = store.insert("x", Tensor::from_vec(vec![1.0f64, 2.0], [2]));
            (store, x)
        };
        let (store, x) = make();
        let mut opt = AdamW::new(&store, AdamWConfig::default());
        x.var().mul_scalar(4.0).sum_all().backward();
        assert!((grad_norm(&store, 0.5) - 32f64.sqrt() * 0.5).abs() < 1e-12, "|(4, 4)| · 0.5");
        opt.step(&store, 0.1, 0.5);
        let saved = opt.state(&store);
        let m = saved.get("m.x").unwrap().value().to_vec::<f64>();
        assert!(m.iter().all(|v| (v - 0.2).abs() < 1e-12), "(1 − β1) · 4 · 0.5: {m:?}");
        // A fresh optimiser restored from the state continues identically.
        let (store2, x2) = make();
        x2.set_value(x.value());
        let mut opt2 = AdamW::new(&store2, AdamWConfig::default());
        opt2.restore(&saved, opt.step);
        for (s, xv, o) in [(&store, &x, &mut opt), (&store2, &x2, &mut opt2)] {
            xv.var().square().sum_all().backward();
            o.step(s, 0.1, 1.0);
        }
        assert_eq!(x.value().to_vec::<f64>(), x2.value().to_vec::<f64>());
    }
}
