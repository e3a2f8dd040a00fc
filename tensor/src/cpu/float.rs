//! `Float`: the element types the CPU kernels compute in (f32 for training, f64 for gradient checks).
//!
//! Kernels are written once, generic over `Float`, and compiled for each SIMD level (see `simd.rs`).

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A floating-point element type the CPU kernels compute in.
pub trait Float:
    Copy
    + Send
    + Sync
    + Debug
    + Default
    + PartialOrd
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    /// 0.0, the identity of a sum.
    const ZERO: Self;
    /// 1.0, the identity of a product.
    const ONE: Self;
    /// −∞, the identity of a max (the start value of a running maximum).
    const NEG_INFINITY: Self;
    /// +∞, the identity of a min.
    const INFINITY: Self;
    /// Converts with `as`: rounds to nearest for f32 (out-of-range values become ±inf).
    fn from_f64(x: f64) -> Self;
    /// Widens with `as` (exact for f32 and f64).
    fn to_f64(self) -> f64;
    /// Goes through f64, so counts above 2^53 (2^24 once in f32) are rounded.
    fn from_usize(x: usize) -> Self {
        Self::from_f64(x as f64)
    }
    /// `self · a + b` with a single rounding; one `vfmadd` inside the FMA-enabled kernels, a
    /// (correct but slow) libm call elsewhere.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// A plain compare-select, `if self > other { self } else { other }`, so it vectorises; NaN
    /// rules differ from `f32::max`: a NaN in `self` is dropped, a NaN in `other` is returned.
    fn max(self, other: Self) -> Self;
    /// `if self < other { self } else { other }`, with the same NaN asymmetry as [`Float::max`].
    fn min(self, other: Self) -> Self;
    /// Absolute value (clears the sign bit, so `abs(-0.0) = 0.0` and NaN stays NaN).
    fn abs(self) -> Self;
    /// Square root; NaN for negative inputs.
    fn sqrt(self) -> Self;
    /// True for any NaN; kernels use it to propagate NaN where the compare-select would drop it.
    fn is_nan(self) -> bool;
}

macro_rules! impl_float {
    ($t:ty) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const INFINITY: Self = <$t>::INFINITY;
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                // `f32::mul_add` is a libm call unless FMA is enabled at compile time; kernels run
                // inside `#[target_feature(enable = "fma")]` functions where this becomes vfmadd.
                <$t>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                // A plain compare-select vectorises to vmaxps; `f32::max` has NaN rules that do not.
                if self > other {
                    self
                } else {
                    other
                }
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                if self < other {
                    self
                } else {
                    other
                }
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
impl_float!(f32);
impl_float!(f64);
