//! Creating tensors: constants, ranges, and tensors from host data.

use crate::dtype::{DType, Element};
use crate::storage::CpuStorage;
use crate::{Shape, Tensor};

impl Tensor {
    /// A tensor holding `data` (row-major) with `shape`.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: impl Into<Shape>) -> Tensor {
        Tensor::from_values(data, shape)
    }

    /// A tensor copying `data` (row-major) with `shape`.
    pub fn from_slice<T: Element>(data: &[T], shape: impl Into<Shape>) -> Tensor {
        Tensor::from_values(data.to_vec(), shape)
    }

    /// A rank-0 tensor holding one f32.
    pub fn scalar(value: f32) -> Tensor {
        Tensor::from_values(vec![value], Shape::default())
    }

    /// A zero-filled tensor on the CPU (large f32/f64 buffers are reused from the pool and zeroed);
    /// [`Tensor::zeros_on`] puts one on a GPU.
    pub fn zeros(shape: impl Into<Shape>, dtype: DType) -> Tensor {
        let shape = shape.into();
        Tensor::from_storage(CpuStorage::zeros(dtype, shape.numel()), shape)
    }

    /// A tensor of ones on the CPU, of any dtype (`u8` and `i64` included), via [`Tensor::full`].
    pub fn ones(shape: impl Into<Shape>, dtype: DType) -> Tensor {
        Tensor::full(shape, 1.0, dtype)
    }

    /// Every element `value` (rounded to `dtype`).
    pub fn full(shape: impl Into<Shape>, value: f64, dtype: DType) -> Tensor {
        fn fill<T: Element>(n: usize, value: f64) -> CpuStorage {
            T::into_storage(vec![T::from_f64(value); n])
        }
        let shape = shape.into();
        let n = shape.numel();
        let storage = match dtype {
            DType::F32 => fill::<f32>(n, value),
            DType::F64 => fill::<f64>(n, value),
            DType::BF16 => fill::<half::bf16>(n, value),
            DType::F16 => fill::<half::f16>(n, value),
            DType::U8 => fill::<u8>(n, value),
            DType::I64 => fill::<i64>(n, value),
        };
        Tensor::from_storage(storage, shape)
    }

    /// Zeros of this tensor's shape and dtype, on its device.
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros_on(self.shape().clone(), self.dtype(), self.device())
    }

    /// Ones of this tensor's shape and dtype, on its device.
    pub fn ones_like(&self) -> Tensor {
        Tensor::full_on(self.shape().clone(), 1.0, self.dtype(), self.device())
    }

    /// `start, start + step, …` up to but excluding `end`, as a 1-D tensor of `dtype`.
    ///
    /// Element i is computed as `start + i·step` (not by repeated addition), so long ranges do not drift.
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Tensor {
        assert!(step != 0.0 && step.is_finite(), "arange step must be finite and non-zero, got {step}");
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        let values: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
        Tensor::from_values(values, [n]).to_dtype(dtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_and_ranges() {
        assert_eq!(Tensor::ones([2, 2], DType::F32).to_vec::<f32>(), vec![1.0; 4]);
        assert_eq!(Tensor::full([3], 2.5, DType::F64).to_vec::<f64>(), vec![2.5; 3]);
        assert_eq!(Tensor::arange(0.0, 5.0, 1.0, DType::I64).to_vec::<i64>(), vec![0, 1, 2, 3, 4]);
        assert_eq!(Tensor::arange(1.0, 0.0, -0.25, DType::F32).to_vec::<f32>(), vec![1.0, 0.75, 0.5, 0.25]);
        assert_eq!(Tensor::arange(3.0, 3.0, 1.0, DType::F32).numel(), 0);
        assert_eq!(Tensor::scalar(4.0).rank(), 0);
    }

    #[test]
    #[should_panic(expected = "cannot have shape")]
    fn from_vec_checks_the_element_count() {
        Tensor::from_vec(vec![1.0f32; 5], [2, 3]);
    }

    #[test]
    #[should_panic(expected = "tensor holds f32, but i64 was asked for")]
    fn reading_the_wrong_dtype_says_so() {
        Tensor::zeros([2], DType::F32).to_vec::<i64>();
    }
}
