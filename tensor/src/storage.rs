//! Where a tensor's elements live: host memory ([`CpuStorage`]) or a GPU ([`GpuStorage`], see
//! `gpu/`). [`Storage`] is the one a tensor holds; CPU code reaches its `CpuStorage` through one branch.

use std::fmt;

use crate::dtype::DType;
use crate::gpu::GpuStorage;
use half::{bf16, f16};

/// A device a tensor can live on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory; ops run on the CPU kernels in `cpu/`.
    Cpu,
    /// GPU `ordinal`: the CUDA device of that number, or the PTX interpreter standing in for it (see
    /// `tensor::gpu::select` for how the choice is made).
    Gpu(usize),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Gpu(n) => write!(f, "gpu:{n}"),
        }
    }
}

/// The elements behind a tensor, on the host or on a GPU.
pub(crate) enum Storage {
    Cpu(CpuStorage),
    Gpu(GpuStorage),
}

impl Storage {
    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
            Storage::Gpu(s) => s.dtype(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(s) => s.len(),
            Storage::Gpu(s) => s.len(),
        }
    }

    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Gpu(s) => Device::Gpu(s.ordinal()),
        }
    }
}

/// A typed, owned buffer in host memory. Views share it through an `Arc`.
#[derive(Clone, Debug, PartialEq)]
pub enum CpuStorage {
    /// f32 elements; a buffer of 1 MiB or more goes back to the pool when dropped.
    F32(Vec<f32>),
    /// f64 elements; pooled like `F32`.
    F64(Vec<f64>),
    /// bfloat16 elements.
    BF16(Vec<bf16>),
    /// IEEE half elements.
    F16(Vec<f16>),
    /// Bytes (pixels, masks).
    U8(Vec<u8>),
    /// 64-bit integers (indices, labels).
    I64(Vec<i64>),
}

impl CpuStorage {
    /// The dtype of the variant held.
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
            CpuStorage::BF16(_) => DType::BF16,
            CpuStorage::F16(_) => DType::F16,
            CpuStorage::U8(_) => DType::U8,
            CpuStorage::I64(_) => DType::I64,
        }
    }

    /// Number of elements in the buffer (not bytes), which can exceed a view's `numel`.
    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
            CpuStorage::BF16(v) => v.len(),
            CpuStorage::F16(v) => v.len(),
            CpuStorage::U8(v) => v.len(),
            CpuStorage::I64(v) => v.len(),
        }
    }

    /// True when the buffer holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A zero-filled buffer of `len` elements.
    pub fn zeros(dtype: DType, len: usize) -> CpuStorage {
        match dtype {
            DType::F32 => CpuStorage::F32(crate::pool::zeroed(len)),
            DType::F64 => CpuStorage::F64(crate::pool::zeroed(len)),
            DType::BF16 => CpuStorage::BF16(vec![bf16::ZERO; len]),
            DType::F16 => CpuStorage::F16(vec![f16::ZERO; len]),
            DType::U8 => CpuStorage::U8(vec![0; len]),
            DType::I64 => CpuStorage::I64(vec![0; len]),
        }
    }
}

impl Drop for CpuStorage {
    fn drop(&mut self) {
        // Large compute buffers go back to the pool for the next op of the same size.
        match self {
            CpuStorage::F32(v) => crate::pool::recycle(std::mem::take(v)),
            CpuStorage::F64(v) => crate::pool::recycle(std::mem::take(v)),
            _ => {}
        }
    }
}

/// Run `$body` with `$v` bound to the typed `Vec` inside a `CpuStorage`, whatever its dtype.
#[macro_export]
#[doc(hidden)]
macro_rules! with_storage {
    ($storage:expr, $v:ident => $body:expr) => {
        match $storage {
            $crate::CpuStorage::F32($v) => $body,
            $crate::CpuStorage::F64($v) => $body,
            $crate::CpuStorage::BF16($v) => $body,
            $crate::CpuStorage::F16($v) => $body,
            $crate::CpuStorage::U8($v) => $body,
            $crate::CpuStorage::I64($v) => $body,
        }
    };
}
