//! Moving tensors between host and device, contiguous copies of views on the device, casts, and
//! constants made directly on a device.

use std::sync::Arc;

use kernels::{Buffer, Pod};

use super::{check, runtime, unsupported, GpuBuffer, GpuStorage};
use crate::storage::Storage;
use crate::{DType, Device, Shape, Tensor};

/// Elements `offset..` of `buf`: where a view's element 0 sits.
fn from_offset<T: Pod>(buf: &Buffer<T>, offset: usize) -> kernels::Slice<'_, T> {
    buf.slice(offset, buf.len() - offset)
}

/// A new row-major buffer holding `x`'s view (any dtype), on `x`'s device.
pub(crate) fn contiguous(x: &Tensor) -> Tensor {
    let st = x.gpu_storage().expect("contiguous on the GPU path");
    let (n, numel) = (st.ordinal(), x.numel());
    let gpu = runtime(n);
    let (dims, strides, offset) = (x.dims(), x.strides(), x.layout().offset());
    fn copy<T: Pod>(
        gpu: &kernels::Gpu,
        n: usize,
        src: &Buffer<T>,
        numel: usize,
        l: (&[usize], &[usize], usize),
    ) -> Buffer<T> {
        let out = check("contiguous", n, gpu.alloc::<T>(numel));
        check("contiguous", n, kernels::strided::copy(gpu, &out, &from_offset(src, l.2), l.0, l.1));
        out
    }
    let l = (dims, strides, offset);
    let buf = match st.buffer() {
        GpuBuffer::F32(b) => GpuBuffer::F32(copy(&gpu, n, b, numel, l)),
        GpuBuffer::F64(b) => GpuBuffer::F64(copy(&gpu, n, b, numel, l)),
        GpuBuffer::BF16(b) => GpuBuffer::BF16(copy(&gpu, n, b, numel, l)),
        GpuBuffer::F16(b) => GpuBuffer::F16(copy(&gpu, n, b, numel, l)),
        GpuBuffer::U8(b) => GpuBuffer::U8(copy(&gpu, n, b, numel, l)),
        GpuBuffer::I64(b) => GpuBuffer::I64(copy(&gpu, n, b, numel, l)),
    };
    Tensor::from_gpu_storage(GpuStorage::new(n, buf), x.shape().clone())
}

/// A new buffer holding `x`'s elements in row-major order, even when `x` already is contiguous (an
/// op about to write into it must not write into its input).
pub(crate) fn contiguous_copy(x: &Tensor) -> Tensor {
    contiguous(x)
}

/// `x` as a contiguous f32 tensor: itself when it already is, else a copy on its device. (Panics
/// naming `op` for another dtype.) Its elements are then [`f32_slice`].
pub(crate) fn dense_f32(x: &Tensor, op: &str) -> Tensor {
    x.gpu_storage().expect("dense_f32 on the GPU path").f32(op);
    if x.is_contiguous() {
        x.clone()
    } else {
        contiguous(x)
    }
}

/// The f32 elements of a contiguous GPU tensor, starting at its element 0.
pub(crate) fn f32_slice<'a>(x: &'a Tensor, op: &str) -> kernels::Slice<'a, f32> {
    debug_assert!(x.is_contiguous(), "{op}: f32_slice of a strided view");
    let buf = x.gpu_storage().expect("f32_slice on the GPU path").f32(op);
    buf.slice(x.layout().offset(), x.numel())
}

/// The f32 buffer of a GPU tensor from its view's element 0, with the view's strides (for the
/// strided kernels, which take any layout).
pub(crate) fn f32_view<'a>(x: &'a Tensor, op: &str) -> kernels::Slice<'a, f32> {
    let buf = x.gpu_storage().expect("f32_view on the GPU path").f32(op);
    from_offset(buf, x.layout().offset())
}

/// A new, uninitialised f32 buffer of `n` elements on GPU `ordinal`.
pub(crate) fn alloc_f32(op: &str, ordinal: usize, n: usize) -> Buffer<f32> {
    check(op, ordinal, runtime(ordinal).alloc::<f32>(n))
}

/// A tensor of `shape` over a whole f32 buffer on GPU `ordinal`.
pub(crate) fn wrap_f32(ordinal: usize, buf: Buffer<f32>, shape: impl Into<Shape>) -> Tensor {
    Tensor::from_gpu_storage(GpuStorage::new(ordinal, GpuBuffer::F32(buf)), shape)
}

/// Every element `value`, made on `device` (uploaded from the host: constants are small or rare).
pub(crate) fn full_on(shape: Shape, value: f64, dtype: DType, ordinal: usize) -> Tensor {
    let gpu = runtime(ordinal);
    let n = shape.numel();
    let buf = if value == 0.0 {
        let z = "zeros";
        match dtype {
            DType::F32 => GpuBuffer::F32(check(z, ordinal, gpu.zeros(n))),
            DType::F64 => GpuBuffer::F64(check(z, ordinal, gpu.zeros(n))),
            DType::BF16 => GpuBuffer::BF16(check(z, ordinal, gpu.zeros(n))),
            DType::F16 => GpuBuffer::F16(check(z, ordinal, gpu.zeros(n))),
            DType::U8 => GpuBuffer::U8(check(z, ordinal, gpu.zeros(n))),
            DType::I64 => GpuBuffer::I64(check(z, ordinal, gpu.zeros(n))),
        }
    } else {
        let host = Tensor::full(shape.clone(), value, dtype);
        return upload(&host, ordinal);
    };
    Tensor::from_gpu_storage(GpuStorage::new(ordinal, buf), shape)
}

fn upload(x: &Tensor, ordinal: usize) -> Tensor {
    let x = x.contiguous();
    // A view into a larger buffer uploads only its own elements.
    let host = if x.layout().offset() == 0 && x.storage().len() == x.numel() {
        x
    } else {
        crate::ops::element_dispatch!(x.dtype(), T => Tensor::from_values(x.to_vec::<T>(), x.shape().clone()))
    };
    let st = GpuStorage::upload(&runtime(ordinal), ordinal, host.storage());
    Tensor::from_gpu_storage(st, host.shape().clone())
}

fn download(x: &Tensor) -> Tensor {
    let st = x.gpu_storage().expect("download of a GPU tensor");
    let host = st.download();
    // The same view over the host copy, then the CPU's own gather.
    Tensor::from_parts(Arc::new(Storage::Cpu(host)), x.layout().clone()).contiguous()
}

impl Tensor {
    /// This tensor on `device`: `self` when already there, else a contiguous copy there. Host <-> GPU
    /// copies wait for the device's pending work; GPU to GPU goes through the host.
    pub fn to_device(&self, device: Device) -> Tensor {
        match (self.device(), device) {
            (a, b) if a == b => self.clone(),
            (Device::Cpu, Device::Gpu(n)) => upload(self, n),
            (Device::Gpu(_), Device::Cpu) => download(self),
            (Device::Gpu(_), Device::Gpu(n)) => upload(&download(self), n),
            (Device::Cpu, Device::Cpu) => unreachable!(),
        }
    }

    /// This tensor on the host (see [`Tensor::to_device`]).
    pub fn to_cpu(&self) -> Tensor {
        self.to_device(Device::Cpu)
    }

    /// A tensor of `shape` with every element 0, on `device`.
    pub fn zeros_on(shape: impl Into<Shape>, dtype: DType, device: Device) -> Tensor {
        Tensor::full_on(shape, 0.0, dtype, device)
    }

    /// A tensor of `shape` with every element `value` (rounded to `dtype`), on `device`.
    pub fn full_on(shape: impl Into<Shape>, value: f64, dtype: DType, device: Device) -> Tensor {
        match device {
            Device::Cpu => Tensor::full(shape, value, dtype),
            Device::Gpu(n) => full_on(shape.into(), value, dtype, n),
        }
    }
}

/// `to_dtype` on the GPU: f32 <-> bf16 (round to nearest even) and u8 -> f32 have kernels.
pub(crate) fn to_dtype(x: &Tensor, to: DType) -> Tensor {
    let n = x.gpu_storage().expect("to_dtype on the GPU path").ordinal();
    let gpu = runtime(n);
    let what = "to_dtype";
    match (x.dtype(), to) {
        (DType::F32, DType::BF16) => {
            let x = dense_f32(x, what);
            let out = check(what, n, gpu.alloc::<u16>(x.numel()));
            check(what, n, kernels::cast::f32_to_bf16(&gpu, &out, &f32_slice(&x, what)));
            Tensor::from_gpu_storage(GpuStorage::new(n, GpuBuffer::BF16(out)), x.shape().clone())
        }
        (DType::BF16, DType::F32) => {
            let x = if x.is_contiguous() { x.clone() } else { contiguous(x) };
            let GpuBuffer::BF16(b) = x.gpu_storage().unwrap().buffer() else { unreachable!() };
            let out = alloc_f32(what, n, x.numel());
            check(what, n, kernels::cast::bf16_to_f32(&gpu, &out, &b.slice(x.layout().offset(), x.numel())));
            wrap_f32(n, out, x.shape().clone())
        }
        (DType::U8, DType::F32) => {
            let GpuBuffer::U8(b) = x.gpu_storage().unwrap().buffer() else { unreachable!() };
            let out = alloc_f32(what, n, x.numel());
            let view = kernels::map::View { buf: &from_offset(b, x.layout().offset()), strides: x.strides() };
            check(what, n, kernels::map::cast_u8_f32(&gpu, &out, view, x.dims()));
            wrap_f32(n, out, x.shape().clone())
        }
        _ => unsupported(&format!("to_dtype({} -> {to})", x.dtype()), x),
    }
}
