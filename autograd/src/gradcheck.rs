//! Finite-difference gradient checks: the test every backward rule must pass.
//!
//! For inputs `x` (f64) and a function `f`, the scalar checked is `L = Σ f(x) ⊙ R` with `R` a fixed
//! random tensor (a plain sum would hide errors that cancel across elements). Each analytic
//! gradient dL/dx_j from `backward` is compared with the central difference
//! `(L(x + ε·e_j) − L(x − ε·e_j)) / 2ε`, whose error is O(ε²) plus rounding O(1e-16/ε).

use tensor::{DType, Tensor};

use crate::{no_grad, Param, Var};

/// Step of the central differences: balances truncation (ε²) against rounding (1e-16/ε).
pub const DEFAULT_EPS: f64 = 1e-6;

fn weighted(out: &Var, weights: &Tensor) -> Var {
    out.mul(&Var::constant(weights.clone())).sum_all()
}

/// Checks `f`'s gradients with respect to every input; `Err` names the worst element.
pub fn check_gradients(inputs: &[Tensor], f: impl Fn(&[Var]) -> Var, eps: f64, tol: f64) -> Result<(), String> {
    for (i, x) in inputs.iter().enumerate() {
        assert_eq!(x.dtype(), DType::F64, "gradient checks run in f64; input {i} is {}", x.dtype());
    }
    let params: Vec<Param> = inputs.iter().map(|x| Param::new(x.clone())).collect();
    let vars: Vec<Var> = params.iter().map(Param::var).collect();
    let out = f(&vars);
    let weights = Tensor::randn(out.shape().clone(), 0.0, 1.0, DType::F64, 12345);
    weighted(&out, &weights).backward();

    let loss_at = |which: usize, values: Tensor| -> f64 {
        no_grad(|| {
            let vars: Vec<Var> = inputs
                .iter()
                .enumerate()
                .map(|(i, x)| Var::constant(if i == which { values.clone() } else { x.clone() }))
                .collect();
            weighted(&f(&vars), &weights).value().item()
        })
    };
    for (i, (x, p)) in inputs.iter().zip(&params).enumerate() {
        let analytic = p.grad().map(|g| g.to_vec::<f64>()).unwrap_or_else(|| vec![0.0; x.numel()]);
        let base = x.to_vec::<f64>();
        for j in 0..base.len() {
            let shifted = |d: f64| {
                let mut v = base.clone();
                v[j] += d;
                loss_at(i, Tensor::from_vec(v, x.shape().clone()))
            };
            let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
            let err = (analytic[j] - numeric).abs();
            // NaN compares false: test for it, or a rule that returns NaN would pass.
            if err.is_nan() || err > tol * (1.0 + numeric.abs()) {
                return Err(format!(
                    "input {i} {:?}, element {j}: backward gives {}, finite differences {numeric} (error {err:.2e})",
                    x.shape(),
                    analytic[j]
                ));
            }
        }
    }
    Ok(())
}
