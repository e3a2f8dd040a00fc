//! Casts between dtypes. f32 ↔ bf16/f16 use `half`'s slice conversions (vectorised where the CPU
//! supports it); every other pair goes through f64, which holds each source value exactly.

use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

use crate::dtype::{DType, Element};
use crate::storage::CpuStorage;
use crate::strided::view_values;
use crate::{with_storage, Tensor};

fn convert<S: Element, D: Element>(src: &[S]) -> Vec<D> {
    src.iter().map(|&x| D::from_f64(x.to_f64())).collect()
}

fn cast_values<S: Element>(src: &[S], to: DType) -> CpuStorage {
    match to {
        DType::F32 => CpuStorage::F32(convert(src)),
        DType::F64 => CpuStorage::F64(convert(src)),
        DType::BF16 => CpuStorage::BF16(convert(src)),
        DType::F16 => CpuStorage::F16(convert(src)),
        DType::U8 => CpuStorage::U8(convert(src)),
        DType::I64 => CpuStorage::I64(convert(src)),
    }
}

impl Tensor {
    /// The same values in another dtype (a contiguous copy; `self` when the dtype already matches).
    ///
    /// Floats round to nearest-even; to integers they truncate toward zero and saturate (NaN → 0).
    pub fn to_dtype(&self, to: DType) -> Tensor {
        if self.dtype() == to {
            return self.clone();
        }
        if crate::gpu::on_gpu(self) {
            return crate::gpu::copy::to_dtype(self, to);
        }
        let shape = self.shape().clone();
        let storage = match (self.storage(), to) {
            (CpuStorage::F32(_), DType::BF16) => {
                let mut out = vec![bf16::ZERO; self.numel()];
                out.convert_from_f32_slice(&self.values::<f32>());
                CpuStorage::BF16(out)
            }
            (CpuStorage::F32(_), DType::F16) => {
                let mut out = vec![f16::ZERO; self.numel()];
                out.convert_from_f32_slice(&self.values::<f32>());
                CpuStorage::F16(out)
            }
            (CpuStorage::BF16(_), DType::F32) => CpuStorage::F32(self.values::<bf16>().to_f32_vec()),
            (CpuStorage::F16(_), DType::F32) => CpuStorage::F32(self.values::<f16>().to_f32_vec()),
            (s, to) => with_storage!(s, v => cast_values(&view_values(v, self.layout()), to)),
        };
        Tensor::from_storage(storage, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_casts_round_to_nearest() {
        let x = Tensor::from_vec(vec![1.0f32, 1.0 + 1.0 / 256.0, -2.5e-3, 65504.0, 1e6], [5]);
        let b = x.to_dtype(DType::BF16).to_dtype(DType::F32).to_vec::<f32>();
        assert_eq!(b[0], 1.0);
        assert_eq!(b[1], 1.0, "1 + 2^-8 is a tie in bf16 and rounds to even");
        let h = x.to_dtype(DType::F16).to_vec_f64();
        assert_eq!(h[3], 65504.0);
        assert!(h[4].is_infinite(), "1e6 overflows f16");
    }

    #[test]
    fn integer_casts_truncate_and_saturate() {
        let x = Tensor::from_vec(vec![-1.5f32, 2.7, 300.0, f32::NAN], [4]);
        assert_eq!(x.to_dtype(DType::U8).to_vec::<u8>(), vec![0, 2, 255, 0]);
        assert_eq!(x.to_dtype(DType::I64).to_vec::<i64>(), vec![-1, 2, 300, 0]);
        let p = Tensor::from_vec(vec![0u8, 128, 255], [3]).to_dtype(DType::F32);
        assert_eq!(p.to_vec::<f32>(), vec![0.0, 128.0, 255.0]);
    }

    #[test]
    fn casting_a_view_casts_its_logical_order() {
        let x = Tensor::arange(0.0, 6.0, 1.0, DType::F32).reshape([2, 3]).t();
        assert_eq!(x.to_dtype(DType::F64).to_vec::<f64>(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }
}
