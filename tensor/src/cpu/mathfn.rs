//! `FloatMath`: the transcendental functions the kernels need, written so loops over them vectorise.
//!
//! `f32::exp` from std calls libm once per element, which stops LLVM from vectorising the loop
//! around it. The f32 versions here are branch-free range reduction + polynomial code built from
//! `mul_add`, bit casts and compare-selects, all `#[inline(always)]`, so inside a kernel compiled by
//! `simd::multiversion!` they become 16-wide AVX-512 code. Special values are handled with selects
//! (never branches), so the vectorised loop has no exits.
//!
//! The f64 versions exist for gradient checks, where correctness matters more than speed: they call
//! std (libm), except erf which std lacks (a series plus a continued fraction, to ~1e-16).
//!
//! Accuracy of the f32 versions, measured by the tests in `mathfn_tests.rs` over dense sweeps
//! against f64 references (max error over the sweep; "rel" is relative, "abs" absolute):
//!
//! | fn        | sweep (400K points)            | max error                      |
//! |-----------|--------------------------------|--------------------------------|
//! | exp       | [-87, 88.7] (normal results)   | rel 7.4e-8; subnormal results within 1 step |
//! | ln        | [1e-38, 1.6e38], subnormals    | rel 7.8e-8                     |
//! | tanh      | [-20, 20]                      | rel 1.6e-7, abs 8.1e-8         |
//! | sigmoid   | [-80, 80]                      | rel 1.5e-7, abs 8.9e-8         |
//! | erf       | [-6, 6]                        | abs 3.1e-7 (rel 5.9e-7)        |
//! | gelu      | [-12, 12]                      | abs 4.2e-7 (rel up to 3e-2 on the far left tail, where gelu < 1e-5) |
//! | gelu_grad | [-12, 12]                      | abs 2.1e-7                     |
//! | powf      | x ∈ [1e-3, 1e3], p ∈ [-3, 3]   | rel 1.2e-6 (grows with |p·ln x|: the error of ln is scaled by p) |
//!
//! rsqrt and recip are correctly rounded divisions/square roots (≤ 1 ulp after composition).

use super::Float;

/// Transcendental functions on a kernel element type (see the module docs for accuracy).
pub trait FloatMath: Float {
    /// e^x; overflow gives +inf, underflow 0 (subnormal results are rounded correctly).
    fn exp(self) -> Self;
    /// e^x for x ≤ 0, as softmax uses it on `x - max`: equal to `exp` wherever e^x ≥ 1.7e-38 and 0
    /// below (x < -87), NaN for NaN. A third cheaper than `exp` (no overflow or subnormal paths).
    fn exp_nonpos(self) -> Self;
    /// Natural log; ln(0) = -inf, ln(x < 0) = NaN, ln(inf) = inf.
    fn ln(self) -> Self;
    /// Hyperbolic tangent, saturating to ±1.
    fn tanh(self) -> Self;
    /// The error function.
    fn erf(self) -> Self;
    /// 1 / (1 + e^-x).
    fn sigmoid(self) -> Self;
    /// GELU in its exact (erf) form: x·Φ(x), Φ the standard normal CDF; gelu(-inf) = 0.
    fn gelu(self) -> Self;
    /// dGELU/dx = Φ(x) + x·φ(x), φ the standard normal density.
    fn gelu_grad(self) -> Self;
    /// 1 / √x.
    fn rsqrt(self) -> Self;
    /// 1 / x.
    fn recip(self) -> Self;
    /// x^p with the IEEE special cases: p = 0 or x = 1 gives 1; x < 0 needs an integer p (else NaN).
    fn powf(self, p: Self) -> Self;
}

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split so that n·LN2_HI is exact for |n| < 2^15 (LN2_HI has 9 significant bits).
const LN2_HI: f32 = 355.0 / 512.0;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Adding 1.5·2^23 rounds an f32 of magnitude < 2^22 to an integer held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// Above ln(f32::MAX) = 88.72 the result is +inf; clamping keeps the exponent arithmetic in range.
const EXP_CLAMP_HI: f32 = 88.8;
/// Below ln(min subnormal / 2) = -103.97 the result rounds to 0 (returned without computing it).
const EXP_CLAMP_LO: f32 = -104.0;
/// At and above this, e^x is a normal f32 (e^-87 = 1.6e-38 > f32::MIN_POSITIVE) and `exp_nonpos`
/// scales by a single power of two; below it, that function returns 0.
const EXP_NORMAL_LO: f32 = -87.0;
const F32_EXP_BIAS: i32 = 127;
const F32_MANT_BITS: u32 = 23;
const F32_MANT_MASK: u32 = (1 << F32_MANT_BITS) - 1;
/// 2^23: scales subnormal inputs of ln into the normal range.
const TWO_POW_MANT: f32 = 8_388_608.0;
/// tanh switches from its Taylor series to 1 - 2/(e^2|x| + 1) above this |x|.
const TANH_SERIES_MAX: f32 = 0.55;
/// erf switches from its Taylor series to the Abramowitz–Stegun 7.1.26 form above this |x|.
const ERF_SERIES_MAX: f32 = 0.5;
const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
const FRAC_2_SQRT_PI: f32 = std::f32::consts::FRAC_2_SQRT_PI;
/// 1/√(2π), the standard normal density at 0.
const INV_SQRT_2PI: f32 = 0.398_942_3;

/// 2^n as an f32, for n in the normal exponent range.
#[inline(always)]
fn pow2i(n: i32) -> f32 {
    f32::from_bits((n.wrapping_add(F32_EXP_BIAS) as u32) << F32_MANT_BITS)
}

#[inline(always)]
fn horner(x: f32, coeffs: &[f32]) -> f32 {
    // Highest degree first; a fixed-size slice unrolls completely.
    let mut p = coeffs[0];
    for &c in &coeffs[1..] {
        p = p.mul_add(x, c);
    }
    p
}

/// The shared core of the two exps: e^x = 2^n · e^r with n = round(x / ln 2) and |r| ≤ ln2/2.
/// Returns `t` = x/ln2 + ROUND_MAGIC, whose bit pattern holds n in its low bits, and e^r.
#[inline(always)]
fn exp_reduced(x: f32) -> (f32, f32) {
    let t = x.mul_add(LOG2E, ROUND_MAGIC);
    let nf = t - ROUND_MAGIC;
    let r = (-nf).mul_add(LN2_HI, x);
    let r = (-nf).mul_add(LN2_LO, r);
    // Taylor to degree 7: the truncation error at |r| = 0.347 is 5e-9, under half an ulp.
    const C: [f32; 8] = [1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0];
    (t, horner(r, &C))
}

#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    // NaN fails every compare and flows through to the polynomial, which returns NaN.
    let x = if x > EXP_CLAMP_HI { EXP_CLAMP_HI } else { x };
    // Below EXP_CLAMP_LO the answer is 0. The lane still runs the arithmetic (a vector select
    // computes both sides), so it runs it on 0 instead: an underflowing multiply costs a
    // microcode assist of ~100 cycles per instruction on Intel, paid by the whole vector (padding
    // lanes of -inf and masked attention scores would otherwise hit it on every block).
    let underflow = x < EXP_CLAMP_LO;
    let x = if underflow { 0.0 } else { x };
    let (t, p) = exp_reduced(x);
    let n = (t.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32);
    // Scale in two halves so that n down to -150 (subnormal results) and up to 128 (overflow to
    // inf) stay within the exponent range of each factor; the rounding happens once, at the end.
    let n1 = n >> 1;
    let y = p * pow2i(n1) * pow2i(n.wrapping_sub(n1));
    if underflow {
        0.0
    } else {
        y
    }
}

#[inline(always)]
fn exp_nonpos_f32(x: f32) -> f32 {
    // Clamped so the arithmetic stays on normal numbers; the flushed lanes are replaced by 0.
    let flush = x < EXP_NORMAL_LO;
    let (t, p) = exp_reduced(if flush { EXP_NORMAL_LO } else { x });
    // t's pattern is ROUND_MAGIC's plus n, and ROUND_MAGIC's low 9 bits are 0, so shifting it left
    // by 23 leaves exactly n << 23: 2^n's exponent field before the bias. Here n ≥ -126, so 2^n is
    // normal and one exact multiply scales p (a NaN p stays NaN).
    let biased = (t.to_bits() << F32_MANT_BITS).wrapping_add((F32_EXP_BIAS as u32) << F32_MANT_BITS);
    let y = p * f32::from_bits(biased);
    if flush {
        0.0
    } else {
        y
    }
}

#[inline(always)]
fn ln_f32(x: f32) -> f32 {
    let tiny = x < f32::MIN_POSITIVE;
    let xs = if tiny { x * TWO_POW_MANT } else { x };
    let bits = xs.to_bits();
    let e = ((bits >> F32_MANT_BITS) as i32).wrapping_sub(F32_EXP_BIAS + if tiny { 23 } else { 0 });
    // m in [1, 2), then folded into [√½, √2) so that f = m - 1 is small on both sides of 1.
    let m = f32::from_bits((bits & F32_MANT_MASK) | 1.0f32.to_bits());
    let big = m > std::f32::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    let e = (if big { e.wrapping_add(1) } else { e }) as f32;
    let f = m - 1.0;
    // ln(1+f) = 2·atanh(s), s = f/(2+f); written as f - (f²/2 - s(f²/2 + R)) so the leading terms
    // are exact and the rounding error stays below an ulp (the fdlibm arrangement).
    let s = f / (2.0 + f);
    let z = s * s;
    const R: [f32; 4] = [2.0 / 9.0, 2.0 / 7.0, 2.0 / 5.0, 2.0 / 3.0];
    let r = z * horner(z, &R);
    let hfsq = 0.5 * f * f;
    let ln1p = f - (hfsq - s * (hfsq + r));
    let y = e.mul_add(LN2_HI, e.mul_add(LN2_LO, ln1p));
    let y = if x == f32::INFINITY { x } else { y };
    let y = if x == 0.0 { f32::NEG_INFINITY } else { y };
    // `!(x >= 0)` is true for negatives and for NaN.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    let invalid = !(x >= 0.0);
    if invalid {
        f32::NAN
    } else {
        y
    }
}

#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    // Near 0, 1 - 2/(e^2x + 1) cancels; the odd Taylor series (to x^17) is accurate there.
    const C: [f32; 9] = [
        6_404_582.0 / 10_854_718_875.0,
        -929_569.0 / 638_512_875.0,
        21_844.0 / 6_081_075.0,
        -1_382.0 / 155_925.0,
        62.0 / 2_835.0,
        -17.0 / 315.0,
        2.0 / 15.0,
        -1.0 / 3.0,
        1.0,
    ];
    let series = x * horner(x * x, &C);
    let a = x.abs();
    let far = 1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0);
    if a < TANH_SERIES_MAX {
        series
    } else {
        far.copysign(x)
    }
}

/// erfc(a) for a ≥ 0.5 by Abramowitz–Stegun 7.1.26 (|error| ≤ 1.5e-7 in erf), and 0 at a = inf.
#[inline(always)]
fn erfc_tail(a: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 6] = [1.061_405_4, -1.453_152, 1.421_413_7, -0.284_496_74, 0.254_829_6, 0.0];
    let t = 1.0 / P.mul_add(a, 1.0);
    horner(t, &A) * exp_f32(-(a * a))
}

/// erf(x) for |x| ≤ 0.5 by its Taylor series (to x^15: truncation < 1e-9).
#[inline(always)]
fn erf_series(x: f32) -> f32 {
    const C: [f32; 8] =
        [-1.0 / 75_600.0, 1.0 / 9_360.0, -1.0 / 1_320.0, 1.0 / 216.0, -1.0 / 42.0, 1.0 / 10.0, -1.0 / 3.0, 1.0];
    FRAC_2_SQRT_PI * x * horner(x * x, &C)
}

#[inline(always)]
fn erf_f32(x: f32) -> f32 {
    let a = x.abs();
    let far = (1.0 - erfc_tail(a)).copysign(x);
    if a < ERF_SERIES_MAX {
        erf_series(x)
    } else {
        far
    }
}

/// Φ(x), computed from erfc on the negative side so the left tail keeps its relative accuracy.
#[inline(always)]
fn normal_cdf(x: f32) -> f32 {
    let z = x * FRAC_1_SQRT_2;
    let a = z.abs();
    let half_tail = 0.5 * erfc_tail(a);
    let far = if z < 0.0 { half_tail } else { 1.0 - half_tail };
    if a < ERF_SERIES_MAX {
        0.5f32.mul_add(erf_series(z), 0.5)
    } else {
        far
    }
}

#[inline(always)]
fn gelu_f32(x: f32) -> f32 {
    let cdf = normal_cdf(x);
    // At x = -inf, x·Φ(x) is -inf·0; the limit is 0.
    if cdf == 0.0 {
        0.0
    } else {
        x * cdf
    }
}

#[inline(always)]
fn gelu_grad_f32(x: f32) -> f32 {
    let density = INV_SQRT_2PI * exp_f32(-0.5 * x * x);
    // x·φ(x) → 0 at ±inf, where the product would be inf·0.
    let x_density = if density == 0.0 { 0.0 } else { x * density };
    normal_cdf(x) + x_density
}

#[inline(always)]
fn powf_f32(x: f32, p: f32) -> f32 {
    let magnitude = exp_f32(p * ln_f32(x.abs()));
    let p_is_int = p == p.trunc();
    let half_p = 0.5 * p;
    let p_is_odd = p_is_int && half_p != half_p.trunc();
    // The sign bit, not `x < 0`, so that (-0)^-1 = -inf.
    let signed = if x.is_sign_negative() && p_is_odd { -magnitude } else { magnitude };
    let signed = if x < 0.0 && !p_is_int { f32::NAN } else { signed };
    if p == 0.0 || x == 1.0 {
        1.0
    } else {
        signed
    }
}

impl FloatMath for f32 {
    #[inline(always)]
    fn exp(self) -> Self {
        exp_f32(self)
    }
    #[inline(always)]
    fn exp_nonpos(self) -> Self {
        exp_nonpos_f32(self)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        ln_f32(self)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        tanh_f32(self)
    }
    #[inline(always)]
    fn erf(self) -> Self {
        erf_f32(self)
    }
    #[inline(always)]
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + exp_f32(-self))
    }
    #[inline(always)]
    fn gelu(self) -> Self {
        gelu_f32(self)
    }
    #[inline(always)]
    fn gelu_grad(self) -> Self {
        gelu_grad_f32(self)
    }
    #[inline(always)]
    fn rsqrt(self) -> Self {
        1.0 / self.sqrt()
    }
    #[inline(always)]
    fn recip(self) -> Self {
        1.0 / self
    }
    #[inline(always)]
    fn powf(self, p: Self) -> Self {
        powf_f32(self, p)
    }
}

#[path = "mathfn_f64.rs"]
mod f64_impl;
#[cfg(test)]
use f64_impl::{erf_f64, erf_series_f64, erfc_cf_f64, erfc_f64, ERF64_SERIES_MAX};

#[cfg(test)]
#[path = "mathfn_tests.rs"]
mod tests;
