//! Accuracy sweeps of the f32 math functions against f64 references, and their special values.
//! Run with `--nocapture` to see the measured maxima quoted in `mathfn.rs`.

use super::*;

/// Evenly spaced points over [lo, hi], dense enough to hit every polynomial regime many times.
fn sweep(lo: f64, hi: f64, n: usize) -> impl Iterator<Item = f32> {
    (0..=n).map(move |i| (lo + (hi - lo) * i as f64 / n as f64) as f32)
}

const N: usize = 400_000;

/// (max relative error, max absolute error) of `f` against `reference` over `xs`.
fn max_err(xs: impl Iterator<Item = f32>, f: impl Fn(f32) -> f32, reference: impl Fn(f64) -> f64) -> (f64, f64) {
    let (mut rel, mut abs) = (0.0f64, 0.0f64);
    for x in xs {
        let want = reference(x as f64);
        let got = f(x) as f64;
        let e = (got - want).abs();
        abs = abs.max(e);
        if want.abs() >= f32::MIN_POSITIVE as f64 {
            rel = rel.max(e / want.abs());
        }
    }
    (rel, abs)
}

fn report(name: &str, (rel, abs): (f64, f64)) -> (f64, f64) {
    println!("{name:>10}: max rel {rel:.2e}, max abs {abs:.2e}");
    (rel, abs)
}

#[test]
fn exp_accuracy_and_specials() {
    let (rel, _) = report("exp", max_err(sweep(-87.0, 88.7, N), FloatMath::exp, f64::exp));
    assert!(rel < 2e-7, "exp rel error {rel}");
    // Subnormal results: within one subnormal step.
    let (_, abs) = max_err(sweep(-103.9, -87.4, N / 10), FloatMath::exp, f64::exp);
    assert!(abs <= 1.5e-45, "exp subnormal abs error {abs}");
    assert_eq!(FloatMath::exp(89.0f32), f32::INFINITY);
    assert_eq!(FloatMath::exp(f32::INFINITY), f32::INFINITY);
    assert_eq!(FloatMath::exp(-104.5f32), 0.0);
    assert_eq!(FloatMath::exp(f32::NEG_INFINITY), 0.0);
    assert_eq!(FloatMath::exp(0.0f32), 1.0);
    assert!(FloatMath::exp(f32::NAN).is_nan());
}

#[test]
fn exp_nonpos_is_exp_down_to_the_normal_range_then_zero() {
    for x in sweep(-87.0, 0.0, N) {
        assert_eq!(x.exp_nonpos().to_bits(), FloatMath::exp(x).to_bits(), "x = {x}");
    }
    for x in [-87.01f32, -90.0, -104.5, f32::NEG_INFINITY] {
        assert_eq!(x.exp_nonpos(), 0.0, "x = {x}");
    }
    assert!(f32::NAN.exp_nonpos().is_nan());
}

#[test]
fn ln_accuracy_and_specials() {
    let log_sweep = sweep(-87.0, 88.0, N).map(|t| (t as f64).exp() as f32);
    let (rel, _) = report("ln", max_err(log_sweep, FloatMath::ln, f64::ln));
    assert!(rel < 2e-7, "ln rel error {rel}");
    let (rel, _) = max_err(sweep(0.5, 2.0, N), FloatMath::ln, f64::ln);
    assert!(rel < 2e-7, "ln near 1 rel error {rel}");
    let subnormals = (1..1000u32).map(|i| f32::from_bits(i * 8191));
    let (rel, _) = max_err(subnormals, FloatMath::ln, f64::ln);
    assert!(rel < 2e-7, "ln subnormal rel error {rel}");
    assert_eq!(FloatMath::ln(0.0f32), f32::NEG_INFINITY);
    assert_eq!(FloatMath::ln(-0.0f32), f32::NEG_INFINITY);
    assert_eq!(FloatMath::ln(1.0f32), 0.0);
    assert_eq!(FloatMath::ln(f32::INFINITY), f32::INFINITY);
    assert!(FloatMath::ln(-1.0f32).is_nan());
    assert!(FloatMath::ln(f32::NEG_INFINITY).is_nan());
    assert!(FloatMath::ln(f32::NAN).is_nan());
}

#[test]
fn tanh_sigmoid_accuracy_and_specials() {
    let (rel, abs) = report("tanh", max_err(sweep(-20.0, 20.0, N), FloatMath::tanh, f64::tanh));
    assert!(abs < 1e-6 && rel < 5e-7, "tanh errors rel {rel} abs {abs}");
    let (rel, _) = max_err(sweep(-1e-3, 1e-3, N / 10), FloatMath::tanh, f64::tanh);
    assert!(rel < 2e-7, "tanh near 0 rel error {rel}");
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let (rel, abs) = report("sigmoid", max_err(sweep(-80.0, 80.0, N), FloatMath::sigmoid, sig));
    assert!(abs < 1e-6 && rel < 5e-7, "sigmoid errors rel {rel} abs {abs}");
    assert_eq!(FloatMath::tanh(100.0f32), 1.0);
    assert_eq!(FloatMath::tanh(f32::NEG_INFINITY), -1.0);
    assert!(FloatMath::tanh(f32::NAN).is_nan());
    assert_eq!(FloatMath::sigmoid(f32::INFINITY), 1.0);
    assert_eq!(FloatMath::sigmoid(f32::NEG_INFINITY), 0.0);
    assert!(FloatMath::sigmoid(f32::NAN).is_nan());
}

#[test]
fn f64_erf_matches_known_values_and_is_continuous() {
    // Reference values of erf / erfc to 16 digits (standard tables).
    let known = [
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (1.5, 0.966_105_146_475_310_7),
        (2.0, 0.995_322_265_018_952_7),
    ];
    for (x, want) in known {
        assert!((erf_f64(x) - want).abs() < 1e-15, "erf({x}) = {}", erf_f64(x));
        assert!((erf_f64(-x) + want).abs() < 1e-15);
    }
    let erfc_known = [(3.0, 2.209_049_699_858_544e-5), (5.0, 1.537_459_794_428_035e-12)];
    for (x, want) in erfc_known {
        let rel = (erfc_f64(x) - want).abs() / want;
        assert!(rel < 1e-13, "erfc({x}) rel error {rel}");
    }
    // The series and the continued fraction agree where they meet.
    let at = ERF64_SERIES_MAX;
    let rel = ((1.0 - erf_series_f64(at)) - erfc_cf_f64(at)).abs() / erfc_cf_f64(at);
    assert!(rel < 1e-11, "series/CF mismatch {rel}");
    assert_eq!(erf_f64(f64::INFINITY), 1.0);
    assert_eq!(erfc_f64(f64::NEG_INFINITY), 2.0);
    assert!(erf_f64(f64::NAN).is_nan());
}

#[test]
fn erf_gelu_accuracy_and_specials() {
    let (_, abs) = report("erf", max_err(sweep(-6.0, 6.0, N), FloatMath::erf, erf_f64));
    assert!(abs < 1e-6, "erf abs error {abs}");
    let (rel, _) = max_err(sweep(-1e-3, 1e-3, N / 10), FloatMath::erf, erf_f64);
    assert!(rel < 2e-7, "erf near 0 rel error {rel}");
    let gelu64 = |x: f64| FloatMath::gelu(x);
    let (_, abs) = report("gelu", max_err(sweep(-12.0, 12.0, N), FloatMath::gelu, gelu64));
    assert!(abs < 2e-6, "gelu abs error {abs}");
    let grad64 = |x: f64| FloatMath::gelu_grad(x);
    let (_, abs) = report("gelu_grad", max_err(sweep(-12.0, 12.0, N), FloatMath::gelu_grad, grad64));
    assert!(abs < 1e-6, "gelu_grad abs error {abs}");
    assert_eq!(FloatMath::erf(f32::INFINITY), 1.0);
    assert_eq!(FloatMath::erf(f32::NEG_INFINITY), -1.0);
    assert_eq!(FloatMath::gelu(f32::INFINITY), f32::INFINITY);
    assert_eq!(FloatMath::gelu(f32::NEG_INFINITY), 0.0);
    assert_eq!(FloatMath::gelu_grad(f32::INFINITY), 1.0);
    assert_eq!(FloatMath::gelu_grad(f32::NEG_INFINITY), 0.0);
    assert!(FloatMath::gelu(f32::NAN).is_nan());
}

#[test]
fn f64_gelu_grad_is_the_derivative_of_gelu() {
    let h = 1e-6;
    for x in sweep(-6.0, 6.0, 1000) {
        let x = x as f64;
        let fd = (FloatMath::gelu(x + h) - FloatMath::gelu(x - h)) / (2.0 * h);
        assert!((fd - FloatMath::gelu_grad(x)).abs() < 1e-8, "x = {x}");
    }
}

#[test]
fn powf_accuracy_and_specials() {
    let mut worst = 0.0f64;
    for p in sweep(-3.0, 3.0, 60) {
        let xs = sweep(-6.9, 6.9, 20_000).map(|t| (t as f64).exp() as f32);
        let (rel, _) = max_err(xs, |x| FloatMath::powf(x, p), |x| x.powf(p as f64));
        worst = worst.max(rel);
    }
    report("powf", (worst, f64::NAN));
    assert!(worst < 3e-6, "powf rel error {worst}");
    assert_eq!(FloatMath::powf(-2.0f32, 3.0), -8.0);
    assert_eq!(FloatMath::powf(-2.0f32, 2.0), 4.0);
    assert!(FloatMath::powf(-2.0f32, 0.5).is_nan());
    assert_eq!(FloatMath::powf(0.0f32, 2.0), 0.0);
    assert_eq!(FloatMath::powf(0.0f32, -1.0), f32::INFINITY);
    assert_eq!(FloatMath::powf(-0.0f32, -1.0), f32::NEG_INFINITY);
    assert_eq!(FloatMath::powf(f32::NAN, 0.0), 1.0);
    assert_eq!(FloatMath::powf(1.0f32, f32::NAN), 1.0);
    assert_eq!(FloatMath::rsqrt(4.0f32), 0.5);
    assert_eq!(FloatMath::recip(4.0f32), 0.25);
}
