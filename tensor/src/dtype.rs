//! Element types: `DType` names them at run time, `Element` ties each to its Rust type.
//!
//! f32 is the CPU compute type; f64 exists for gradient checks; bf16 and f16 are storage formats
//! (cast to f32 to compute); u8 holds pixels and boolean masks; i64 holds indices and labels.

use half::{bf16, f16};
use std::fmt;

use crate::storage::CpuStorage;

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE float: the type CPU and GPU ops compute in.
    F32,
    /// 64-bit IEEE float, for gradient checks against f32.
    F64,
    /// bfloat16 (f32's exponent range, 8 significant bits): a storage format, cast to f32 to
    /// compute.
    BF16,
    /// IEEE half (5-bit exponent, 11 significant bits, max 65504): a storage format, cast to f32 to
    /// compute.
    F16,
    /// Unsigned byte: image pixels and boolean masks (comparisons produce it, 1 for true).
    U8,
    /// Signed 64-bit integer: indices and class labels.
    I64,
}

impl DType {
    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::U8 => 1,
            DType::BF16 | DType::F16 => 2,
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }

    /// True for the types arithmetic kernels run in (f32, f64).
    pub fn is_compute_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// The lower-case Rust name (`"f32"`, `"bf16"`, ...), as `Display` prints it.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::BF16 => "bf16",
            DType::F16 => "f16",
            DType::U8 => "u8",
            DType::I64 => "i64",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Rust type that can be stored in a tensor.
pub trait Element: Copy + Send + Sync + fmt::Debug + Default + PartialEq + 'static {
    /// The run-time tag of this type (`f32::DTYPE == DType::F32`).
    const DTYPE: DType;
    /// Widen to f64 (exact for every type here except i64 beyond 2^53).
    fn to_f64(self) -> f64;
    /// Narrow from f64: round to nearest for floats, saturate and truncate toward zero for integers.
    fn from_f64(x: f64) -> Self;
    /// Wraps the vector in the matching [`CpuStorage`] variant (moves it, no copy).
    fn into_storage(v: Vec<Self>) -> CpuStorage;
    /// The elements if `s` holds this type, `None` otherwise (no conversion is attempted).
    fn slice_of(s: &CpuStorage) -> Option<&[Self]>;
    /// Mutable form of [`Element::slice_of`].
    fn slice_of_mut(s: &mut CpuStorage) -> Option<&mut [Self]>;
}

macro_rules! impl_element {
    ($t:ty, $variant:ident, |$a:ident| $to:expr, |$b:ident| $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                let $a = self;
                $to
            }
            #[inline(always)]
            fn from_f64($b: f64) -> Self {
                $from
            }
            fn into_storage(v: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(v)
            }
            fn slice_of(s: &CpuStorage) -> Option<&[Self]> {
                match s {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_of_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
                match s {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}

impl_element!(f32, F32, |x| x as f64, |x| x as f32);
impl_element!(f64, F64, |x| x, |x| x);
impl_element!(bf16, BF16, |x| x.to_f64(), |x| bf16::from_f64(x));
impl_element!(f16, F16, |x| x.to_f64(), |x| f16::from_f64(x));
impl_element!(u8, U8, |x| x as f64, |x| x as u8);
impl_element!(i64, I64, |x| x as f64, |x| x as i64);
