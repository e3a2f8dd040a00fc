//! `FloatMath` for f64: std (libm) where it has the function, and erf/erfc of our own (std has
//! none), accurate to ~1e-16 relative: these serve gradient checks and as the references the f32
//! versions are measured against, so correctness matters more than speed.

use super::FloatMath;

/// erf for |x| ≤ this by the all-positive series, beyond by the continued fraction for erfc.
pub(super) const ERF64_SERIES_MAX: f64 = 2.5;
/// Continued-fraction depth for erfc at x ≥ 2.5: converged to ~1e-17 there (checked in tests).
const ERFC64_CF_TERMS: usize = 120;

/// erf(x) = 2/√π · e^{-x²} · Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)); every term is positive, so no
/// cancellation, and the terms fall off once n > x².
pub(super) fn erf_series_f64(x: f64) -> f64 {
    let x2 = x * x;
    let (mut term, mut sum) = (x, x);
    let mut k = 1.0;
    while term.abs() > 1e-18 * sum.abs() {
        k += 2.0;
        term *= 2.0 * x2 / k;
        sum += term;
    }
    std::f64::consts::FRAC_2_SQRT_PI * (-x2).exp() * sum
}

/// erfc(x) for x ≥ 2.5 by the continued fraction e^{-x²}/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))).
pub(super) fn erfc_cf_f64(x: f64) -> f64 {
    let mut f = x;
    for k in (1..=ERFC64_CF_TERMS).rev() {
        f = x + (k as f64 * 0.5) / f;
    }
    (-x * x).exp() / (std::f64::consts::PI.sqrt() * f)
}

/// erfc in f64, accurate relative to its value on both tails.
pub(crate) fn erfc_f64(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x > ERF64_SERIES_MAX {
        if x == f64::INFINITY {
            0.0
        } else {
            erfc_cf_f64(x)
        }
    } else if x < -ERF64_SERIES_MAX {
        2.0 - erfc_f64(-x)
    } else {
        1.0 - erf_series_f64(x)
    }
}

/// erf in f64 (std has none).
pub(crate) fn erf_f64(x: f64) -> f64 {
    if x.abs() <= ERF64_SERIES_MAX {
        erf_series_f64(x)
    } else if x.is_nan() {
        x
    } else {
        (1.0 - erfc_f64(x.abs())).copysign(x)
    }
}

impl FloatMath for f64 {
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn exp_nonpos(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    fn erf(self) -> Self {
        erf_f64(self)
    }
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + f64::exp(-self))
    }
    fn gelu(self) -> Self {
        let cdf = 0.5 * erfc_f64(-self * std::f64::consts::FRAC_1_SQRT_2);
        if cdf == 0.0 {
            0.0
        } else {
            self * cdf
        }
    }
    fn gelu_grad(self) -> Self {
        let cdf = 0.5 * erfc_f64(-self * std::f64::consts::FRAC_1_SQRT_2);
        let density = (-0.5 * self * self).exp() / (2.0 * std::f64::consts::PI).sqrt();
        cdf + if density == 0.0 { 0.0 } else { self * density }
    }
    fn rsqrt(self) -> Self {
        1.0 / self.sqrt()
    }
    fn recip(self) -> Self {
        1.0 / self
    }
    fn powf(self, p: Self) -> Self {
        f64::powf(self, p)
    }
}
