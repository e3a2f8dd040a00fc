//! `Tensor`: a shared storage buffer seen through a `Layout`.
//!
//! Tensors are values: every op returns a new tensor and never changes its inputs, so views can
//! share storage freely (`Arc`). Cloning a tensor is cheap (it clones the `Arc`, not the data).
//! Ops panic with a message naming the shapes when called with mismatched operands, as a
//! programming error; data a user hands in is checked by the crates that read it.

use std::borrow::Cow;
use std::sync::Arc;

use crate::dtype::{DType, Element};
use crate::storage::{CpuStorage, Device, Storage};
use crate::strided::{gather_contiguous, view_values};
use crate::{with_storage, Layout, Shape};

/// An n-dimensional array.
#[derive(Clone)]
pub struct Tensor {
    storage: Arc<Storage>,
    layout: Layout,
}

impl Tensor {
    /// A tensor over a whole buffer, in row-major order.
    pub fn from_storage(storage: CpuStorage, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        assert_eq!(
            storage.len(),
            shape.numel(),
            "a buffer of {} elements cannot have shape {shape:?} ({} elements)",
            storage.len(),
            shape.numel()
        );
        Tensor { storage: Arc::new(Storage::Cpu(storage)), layout: Layout::contiguous(shape) }
    }

    /// A tensor over a whole GPU buffer, in row-major order.
    pub(crate) fn from_gpu_storage(storage: crate::gpu::GpuStorage, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        assert_eq!(
            storage.len(),
            shape.numel(),
            "a GPU buffer of {} elements cannot have shape {shape:?}",
            storage.len()
        );
        Tensor { storage: Arc::new(Storage::Gpu(storage)), layout: Layout::contiguous(shape) }
    }

    /// A view of `storage` with a given layout (which must stay inside the buffer).
    pub(crate) fn from_parts(storage: Arc<Storage>, layout: Layout) -> Tensor {
        assert!(
            layout.storage_extent() <= storage.len(),
            "layout {layout:?} reaches past a buffer of {} elements",
            storage.len()
        );
        Tensor { storage, layout }
    }

    /// The same storage seen with another layout.
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor::from_parts(self.storage.clone(), layout)
    }

    /// The logical sizes of this view (a view's shape, not its buffer's).
    pub fn shape(&self) -> &Shape {
        self.layout.shape()
    }

    /// The sizes as a slice, outermost first (`&[]` for a rank-0 tensor).
    pub fn dims(&self) -> &[usize] {
        self.layout.dims()
    }

    /// Size of one dimension (negative axes count from the end).
    pub fn dim(&self, axis: isize) -> usize {
        self.shape().dim(axis)
    }

    /// Number of dimensions (0 for a scalar).
    pub fn rank(&self) -> usize {
        self.shape().rank()
    }

    /// Number of elements: the product of the dims (1 for a rank-0 tensor, 0 if any dim is 0).
    pub fn numel(&self) -> usize {
        self.shape().numel()
    }

    /// The element type, which is the storage's: views never convert (see `to_dtype`).
    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }

    /// Where the elements live (`to_device` moves them).
    pub fn device(&self) -> Device {
        self.storage.device()
    }

    /// Shape, strides and offset of this view into its storage.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Storage steps per dim, in elements (not bytes); 0 on broadcast dims.
    pub fn strides(&self) -> &[usize] {
        self.layout.strides()
    }

    /// The host buffer behind this tensor; panics for a tensor on a GPU (see [`Tensor::gpu_storage`]).
    pub fn storage(&self) -> &CpuStorage {
        match &*self.storage {
            Storage::Cpu(s) => s,
            Storage::Gpu(_) => on_gpu_panic(self, "storage()"),
        }
    }

    /// The device buffer behind this tensor, when it lives on a GPU.
    pub fn gpu_storage(&self) -> Option<&crate::gpu::GpuStorage> {
        match &*self.storage {
            Storage::Cpu(_) => None,
            Storage::Gpu(s) => Some(s),
        }
    }

    /// True when both tensors are views of one buffer (no copy separates them).
    pub fn shares_storage_with(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// True when the elements are row-major with no gaps; the view may still start at a nonzero
    /// offset and its buffer may be larger (e.g. after `narrow` on the first axis).
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// A row-major tensor with the same values: `self` itself when already contiguous, else a copy.
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            return self.clone();
        }
        if self.gpu_storage().is_some() {
            return crate::gpu::copy::contiguous(self);
        }
        let storage = with_storage!(self.storage(), v => Element::into_storage(gather_contiguous(v, &self.layout)));
        Tensor::from_storage(storage, self.shape().clone())
    }

    /// The typed buffer behind this tensor, panicking with both dtypes if `T` is not its dtype.
    pub(crate) fn buffer<T: Element>(&self) -> &[T] {
        let Storage::Cpu(storage) = &*self.storage else { on_gpu_panic(self, "a CPU kernel") };
        T::slice_of(storage).unwrap_or_else(|| {
            panic!("tensor holds {}, but {} was asked for (cast with to_dtype first)", self.dtype(), T::DTYPE)
        })
    }

    /// The values in row-major order: borrowed when contiguous, gathered otherwise.
    pub(crate) fn values<T: Element>(&self) -> Cow<'_, [T]> {
        view_values(self.buffer::<T>(), &self.layout)
    }

    /// The values as a slice when the tensor is contiguous and holds `T`.
    /// (`None` on a GPU, like for a view that is not contiguous.)
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        let Storage::Cpu(storage) = &*self.storage else { return None };
        let buf = T::slice_of(storage)?;
        let start = self.layout.offset();
        self.is_contiguous().then(|| &buf[start..start + self.numel()])
    }

    /// The values in row-major order. Panics if the tensor does not hold `T`. On a GPU this reads
    /// the values back to the host (that is what it is for).
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        if self.gpu_storage().is_some() {
            return self.to_cpu().to_vec();
        }
        self.values::<T>().into_owned()
    }

    /// The values of any dtype, widened to f64 (for tests, printing and checks); read back from a GPU.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        if self.gpu_storage().is_some() {
            return self.to_cpu().to_vec_f64();
        }
        with_storage!(self.storage(), v => gather_contiguous(v, &self.layout).into_iter().map(|x| x.to_f64()).collect())
    }

    /// The single value of a one-element tensor, as f64.
    pub fn item(&self) -> f64 {
        assert_eq!(self.numel(), 1, "item() needs a one-element tensor, got shape {:?}", self.shape());
        self.to_vec_f64()[0]
    }

    /// A new contiguous tensor holding `values` with `shape`.
    pub(crate) fn from_values<T: Element>(values: Vec<T>, shape: impl Into<Shape>) -> Tensor {
        Tensor::from_storage(T::into_storage(values), shape)
    }
}

/// The one message for a GPU tensor reaching host-only code: which op, which tensor, and what to do.
#[cold]
#[inline(never)]
fn on_gpu_panic(t: &Tensor, what: &str) -> ! {
    panic!(
        "{what} was handed a {} {:?} tensor on {}: this op has no GPU implementation yet; \
         move its operands with .to_cpu() (and back with .to_device()) to run it on the CPU",
        t.dtype(),
        t.shape(),
        t.device()
    )
}
