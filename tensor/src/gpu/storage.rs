//! Device buffers behind GPU tensors: one typed `kernels::Buffer` per dtype, handed back to its
//! device's pool (`runtime.rs`) when the last tensor viewing it is dropped. bf16 and f16 travel as
//! their raw `u16` bits.

use half::{bf16, f16};
use kernels::{Buffer, Gpu};

use crate::dtype::DType;
use crate::storage::CpuStorage;

/// A typed device buffer.
pub enum GpuBuffer {
    /// f32 elements: the one dtype most GPU ops compute in.
    F32(Buffer<f32>),
    /// f64 elements.
    F64(Buffer<f64>),
    /// bfloat16 elements, held as their raw `u16` bits.
    BF16(Buffer<u16>),
    /// IEEE half elements, held as their raw `u16` bits.
    F16(Buffer<u16>),
    /// Bytes (pixels, masks).
    U8(Buffer<u8>),
    /// 64-bit integers (indices, labels).
    I64(Buffer<i64>),
}

/// The elements of a tensor on GPU `ordinal`.
pub struct GpuStorage {
    ordinal: usize,
    buf: GpuBuffer,
}

fn fail<T>(what: &str, ordinal: usize, r: kernels::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{what} on gpu:{ordinal}: {e}"))
}

impl GpuStorage {
    /// Wraps `buf` as the storage of GPU `ordinal`; nothing checks that `buf` was allocated there.
    pub fn new(ordinal: usize, buf: GpuBuffer) -> GpuStorage {
        GpuStorage { ordinal, buf }
    }

    /// The GPU number, as in `Device::Gpu(ordinal)`.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// The typed device buffer, for launching kernels on it.
    pub fn buffer(&self) -> &GpuBuffer {
        &self.buf
    }

    /// The dtype of the buffer held (bf16 and f16 report themselves, not `u16`).
    pub fn dtype(&self) -> DType {
        match self.buf {
            GpuBuffer::F32(_) => DType::F32,
            GpuBuffer::F64(_) => DType::F64,
            GpuBuffer::BF16(_) => DType::BF16,
            GpuBuffer::F16(_) => DType::F16,
            GpuBuffer::U8(_) => DType::U8,
            GpuBuffer::I64(_) => DType::I64,
        }
    }

    /// Number of elements in the buffer (not bytes), which can exceed a view's `numel`.
    pub fn len(&self) -> usize {
        match &self.buf {
            GpuBuffer::F32(b) => b.len(),
            GpuBuffer::F64(b) => b.len(),
            GpuBuffer::BF16(b) | GpuBuffer::F16(b) => b.len(),
            GpuBuffer::U8(b) => b.len(),
            GpuBuffer::I64(b) => b.len(),
        }
    }

    /// True when the buffer holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The f32 buffer, panicking with the op's name for another dtype.
    pub(crate) fn f32(&self, op: &str) -> &Buffer<f32> {
        match &self.buf {
            GpuBuffer::F32(b) => b,
            _ => panic!(
                "{op} on the GPU computes in f32, but the tensor holds {} (cast with to_dtype first)",
                self.dtype()
            ),
        }
    }

    /// A copy of `host` on GPU `ordinal`.
    pub(crate) fn upload(gpu: &Gpu, ordinal: usize, host: &CpuStorage) -> GpuStorage {
        let up = "copy to the device";
        let bits = |v: Vec<u16>| fail(up, ordinal, gpu.upload(&v));
        let buf = match host {
            CpuStorage::F32(v) => GpuBuffer::F32(fail(up, ordinal, gpu.upload(v))),
            CpuStorage::F64(v) => GpuBuffer::F64(fail(up, ordinal, gpu.upload(v))),
            CpuStorage::BF16(v) => GpuBuffer::BF16(bits(v.iter().map(|x| x.to_bits()).collect())),
            CpuStorage::F16(v) => GpuBuffer::F16(bits(v.iter().map(|x| x.to_bits()).collect())),
            CpuStorage::U8(v) => GpuBuffer::U8(fail(up, ordinal, gpu.upload(v))),
            CpuStorage::I64(v) => GpuBuffer::I64(fail(up, ordinal, gpu.upload(v))),
        };
        GpuStorage { ordinal, buf }
    }

    /// The whole buffer copied to the host (after every launch before it has finished).
    pub(crate) fn download(&self) -> CpuStorage {
        let (down, n) = ("copy to the host", self.ordinal);
        match &self.buf {
            GpuBuffer::F32(b) => CpuStorage::F32(fail(down, n, b.read())),
            GpuBuffer::F64(b) => CpuStorage::F64(fail(down, n, b.read())),
            GpuBuffer::BF16(b) => CpuStorage::BF16(fail(down, n, b.read()).into_iter().map(bf16::from_bits).collect()),
            GpuBuffer::F16(b) => CpuStorage::F16(fail(down, n, b.read()).into_iter().map(f16::from_bits).collect()),
            GpuBuffer::U8(b) => CpuStorage::U8(fail(down, n, b.read())),
            GpuBuffer::I64(b) => CpuStorage::I64(fail(down, n, b.read())),
        }
    }
}
