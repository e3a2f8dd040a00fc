//! [`Gpu`]: the handle user code holds, over either backend, and [`Buffer`], typed device memory.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::{Arg, Backend, Error, LaunchConfig, Result};

/// Plain-old-data element types that may be copied to and from device memory byte for byte.
///
/// # Safety
/// Every bit pattern of `size_of::<Self>()` bytes must be a valid value, with no padding.
pub unsafe trait Pod: Copy + Send + Sync + 'static {}
unsafe impl Pod for f32 {}
unsafe impl Pod for f64 {}
unsafe impl Pod for u8 {}
unsafe impl Pod for u16 {}
unsafe impl Pod for u32 {}
unsafe impl Pod for i32 {}
unsafe impl Pod for u64 {}
unsafe impl Pod for i64 {}

/// A device: cheap to clone, shared by the buffers allocated on it.
#[derive(Clone)]
pub struct Gpu {
    backend: Arc<dyn Backend>,
}

impl Gpu {
    /// Wraps a backend.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self { backend }
    }

    /// The PTX interpreter, always available.
    pub fn interpreter() -> Self {
        Self::new(Arc::new(crate::interp::Interpreter::new()))
    }

    /// The CUDA device `ordinal` through the driver API.
    #[cfg(feature = "cuda")]
    pub fn cuda(ordinal: usize) -> Result<Self> {
        Ok(Self::new(Arc::new(crate::cuda::Cuda::new(ordinal)?)))
    }

    /// The best backend here: CUDA device 0 when built with `cuda` and a driver and GPU are present, else
    /// the interpreter. `CAE_GPU=interp|cuda` forces a choice. Why the choice was made is printed once.
    pub fn best() -> Result<Self> {
        let forced = std::env::var("CAE_GPU").ok();
        let (gpu, reason) = match forced.as_deref() {
            Some("interp") => (Self::interpreter(), "CAE_GPU=interp".to_string()),
            Some("cuda") => (Self::try_cuda()?, "CAE_GPU=cuda".to_string()),
            Some(other) => {
                return Err(Error::Unavailable(format!("CAE_GPU={other}: expected `interp` or `cuda`")));
            }
            None => match Self::try_cuda() {
                Ok(gpu) => (gpu, "a CUDA driver and GPU are present".to_string()),
                Err(e) => (Self::interpreter(), e.to_string()),
            },
        };
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| eprintln!("kernels: running on {} ({reason})", gpu.name()));
        Ok(gpu)
    }

    #[cfg(feature = "cuda")]
    fn try_cuda() -> Result<Self> {
        Self::cuda(0)
    }

    #[cfg(not(feature = "cuda"))]
    fn try_cuda() -> Result<Self> {
        Err(Error::Unavailable("built without the `cuda` feature".into()))
    }

    /// The backend's name.
    pub fn name(&self) -> String {
        self.backend.name()
    }

    /// The backend itself, for what the typed API does not cover.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// Loads (once) a PTX module under a name.
    pub fn load(&self, module: &str, ptx: &str) -> Result<()> {
        self.backend.load(module, ptx)
    }

    /// Launches a kernel of a loaded module.
    pub fn launch(&self, module: &str, kernel: &str, cfg: &LaunchConfig, args: &[Arg]) -> Result<()> {
        self.backend.launch(module, kernel, cfg, args)
    }

    /// Waits for every launch so far.
    pub fn synchronize(&self) -> Result<()> {
        self.backend.synchronize()
    }

    /// Allocates `len` elements, uninitialised.
    pub fn alloc<T: Pod>(&self, len: usize) -> Result<Buffer<T>> {
        let bytes = len * size_of::<T>();
        let ptr = self.backend.alloc(bytes.max(1))?;
        Ok(Buffer { gpu: self.clone(), ptr, len, owned: true, _t: PhantomData })
    }

    /// Allocates a buffer holding a copy of `data`.
    pub fn upload<T: Pod>(&self, data: &[T]) -> Result<Buffer<T>> {
        let buf = self.alloc(data.len())?;
        buf.write(data)?;
        Ok(buf)
    }

    /// Allocates `len` zeroed elements.
    pub fn zeros<T: Pod>(&self, len: usize) -> Result<Buffer<T>> {
        let buf = self.alloc::<T>(len)?;
        self.backend.write(buf.ptr, &vec![0u8; len * size_of::<T>()])?;
        Ok(buf)
    }
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu({})", self.name())
    }
}

/// `len` elements of `T` in device memory, freed on drop.
pub struct Buffer<T: Pod> {
    gpu: Gpu,
    ptr: u64,
    len: usize,
    /// False for the borrowed sub-range inside a [`Slice`], which must not free the allocation.
    owned: bool,
    _t: PhantomData<T>,
}

/// Elements `start..start + len` of a [`Buffer`], borrowed: it can be handed to any launch wrapper
/// that takes a `&Buffer` (a tensor view that starts inside its allocation), and it frees nothing.
pub struct Slice<'a, T: Pod> {
    buf: Buffer<T>,
    _parent: PhantomData<&'a Buffer<T>>,
}

impl<T: Pod> std::ops::Deref for Slice<'_, T> {
    type Target = Buffer<T>;
    fn deref(&self) -> &Buffer<T> {
        &self.buf
    }
}

impl<T: Pod> Buffer<T> {
    /// The device address, to pass as [`Arg::Ptr`].
    pub fn ptr(&self) -> u64 {
        self.ptr
    }
    /// The address as a kernel argument.
    pub fn arg(&self) -> Arg {
        Arg::Ptr(self.ptr)
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when the buffer holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Elements `start..start + len`, borrowed (no copy). Panics when the range leaves the buffer.
    pub fn slice(&self, start: usize, len: usize) -> Slice<'_, T> {
        assert!(
            start.checked_add(len).is_some_and(|end| end <= self.len),
            "slice {start}..{start}+{len} of a buffer of {} elements",
            self.len
        );
        let ptr = self.ptr + (start * size_of::<T>()) as u64;
        Slice { buf: Buffer { gpu: self.gpu.clone(), ptr, len, owned: false, _t: PhantomData }, _parent: PhantomData }
    }
    /// Overwrites the whole buffer from the host.
    pub fn write(&self, data: &[T]) -> Result<()> {
        if data.len() != self.len {
            return Err(Error::Memory(format!("write of {} elements into a buffer of {}", data.len(), self.len)));
        }
        // SAFETY: T is Pod, so its bytes are plain data without padding.
        let bytes = unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), size_of_val(data)) };
        self.gpu.backend.write(self.ptr, bytes)
    }
    /// Copies the whole buffer to the host (after the launches before it have finished).
    pub fn read(&self) -> Result<Vec<T>> {
        self.gpu.synchronize()?;
        let mut out = Vec::<T>::with_capacity(self.len);
        // SAFETY: the bytes are fully written by `read` before `set_len`; T is Pod.
        unsafe {
            let bytes = std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), self.len * size_of::<T>());
            self.gpu.backend.read(self.ptr, bytes)?;
            out.set_len(self.len);
        }
        Ok(out)
    }
}

impl<T: Pod> Drop for Buffer<T> {
    fn drop(&mut self) {
        // A failed free at drop time cannot be reported; the interpreter checks double frees itself.
        if self.owned {
            let _ = self.gpu.backend.free(self.ptr);
        }
    }
}
