//! The CUDA driver backend (`cuda` feature): one context, one stream, PTX modules JIT-compiled by the
//! driver once and cached by name. libcuda is loaded at run time by cudarc; when it is missing, or no
//! device is present, [`Cuda::new`] returns [`Error::Unavailable`] instead of panicking.

use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::sync::Mutex;

use cudarc::driver::{result, sys};

use crate::{Arg, Backend, Error, LaunchConfig, Result};

/// Bytes reserved for the driver's PTX JIT error log, so a bad module reports its line and reason.
const JIT_LOG_BYTES: usize = 16 * 1024;

/// A CUDA device driven through the driver API.
pub struct Cuda {
    ctx: sys::CUcontext,
    stream: sys::CUstream,
    device: sys::CUdevice,
    name: String,
    modules: Mutex<HashMap<String, sys::CUmodule>>,
    functions: Mutex<HashMap<(String, String), sys::CUfunction>>,
}

// SAFETY: the context, stream, module and function handles are opaque driver handles that the driver
// allows any thread to use once the context is made current there, which every method does first.
unsafe impl Send for Cuda {}
// SAFETY: as above; the caches are behind mutexes.
unsafe impl Sync for Cuda {}

fn driver(what: &str) -> impl Fn(result::DriverError) -> Error + '_ {
    move |e| Error::Driver(format!("{what}: {e:?}"))
}

impl Cuda {
    /// Opens device `ordinal`: checks libcuda can be loaded, initialises the driver, retains the device's
    /// primary context (the one cuBLAS and other libraries share) and creates a stream.
    pub fn new(ordinal: usize) -> Result<Self> {
        // SAFETY: only tries to dlopen the library; no CUDA call is made if it is absent.
        if !unsafe { sys::is_culib_present() } {
            return Err(Error::Unavailable("the CUDA driver library (libcuda.so.1) could not be loaded".into()));
        }
        result::init().map_err(|e| Error::Unavailable(format!("cuInit failed ({e:?}): no usable driver or GPU")))?;
        let count = result::device::get_count().map_err(driver("cuDeviceGetCount"))?;
        if ordinal >= count as usize {
            return Err(Error::Unavailable(format!("no CUDA device {ordinal} ({count} present)")));
        }
        let device = result::device::get(ordinal as i32).map_err(driver("cuDeviceGet"))?;
        let name = result::device::get_name(device).map_err(driver("cuDeviceGetName"))?;
        // SAFETY: `device` is a valid ordinal; the primary context is released in Drop.
        let ctx = unsafe { result::primary_ctx::retain(device) }.map_err(driver("cuDevicePrimaryCtxRetain"))?;
        // SAFETY: `ctx` was just retained.
        unsafe { result::ctx::set_current(ctx) }.map_err(driver("cuCtxSetCurrent"))?;
        let stream =
            result::stream::create(result::stream::StreamKind::NonBlocking).map_err(driver("cuStreamCreate"))?;
        Ok(Self {
            ctx,
            stream,
            device,
            name: format!("{name} (CUDA)"),
            modules: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
        })
    }

    /// The stream every launch and copy is queued on, for peers (cuBLAS) that must share it.
    pub fn stream(&self) -> sys::CUstream {
        self.stream
    }

    /// Makes this backend's context current on the calling thread (each driver call needs it).
    pub fn bind(&self) -> Result<()> {
        // SAFETY: the context is retained for the lifetime of `self`.
        unsafe { result::ctx::set_current(self.ctx) }.map_err(driver("cuCtxSetCurrent"))
    }

    /// Copies `bytes` bytes from device address `src` to `dst` on the stream (the bandwidth peer).
    pub fn copy_device(&self, dst: u64, src: u64, bytes: usize) -> Result<()> {
        self.bind()?;
        // SAFETY: the caller passes addresses of live allocations of at least `bytes` bytes.
        unsafe { result::memcpy_dtod_async(dst, src, bytes, self.stream) }.map_err(driver("cuMemcpyDtoDAsync"))
    }

    fn function(&self, module: &str, kernel: &str) -> Result<sys::CUfunction> {
        let key = (module.to_string(), kernel.to_string());
        if let Some(&f) = self.functions.lock().unwrap().get(&key) {
            return Ok(f);
        }
        let modules = self.modules.lock().unwrap();
        let unknown = || Error::UnknownKernel { module: module.into(), kernel: kernel.into() };
        let &m = modules.get(module).ok_or_else(unknown)?;
        let cname = CString::new(kernel).map_err(|_| unknown())?;
        // SAFETY: `m` is a loaded module, never unloaded before Drop.
        let f = unsafe { result::module::get_function(m, cname) }.map_err(|_| unknown())?;
        self.functions.lock().unwrap().insert(key, f);
        Ok(f)
    }
}

impl Backend for Cuda {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn alloc(&self, bytes: usize) -> Result<u64> {
        self.bind()?;
        // SAFETY: the context is current; the allocation is freed through `free`.
        unsafe { result::malloc_sync(bytes) }.map_err(driver("cuMemAlloc"))
    }

    fn free(&self, ptr: u64) -> Result<()> {
        self.bind()?;
        // Kernels still queued may use the memory: wait for them before handing it back.
        self.synchronize()?;
        // SAFETY: `ptr` came from `alloc` and nothing queued uses it any more.
        unsafe { result::free_sync(ptr) }.map_err(driver("cuMemFree"))
    }

    fn write(&self, dst: u64, src: &[u8]) -> Result<()> {
        self.bind()?;
        // SAFETY: the copy is queued after earlier launches and waited for before `src` can go away.
        unsafe { result::memcpy_htod_async(dst, src, self.stream) }.map_err(driver("cuMemcpyHtoDAsync"))?;
        self.synchronize()
    }

    fn read(&self, src: u64, dst: &mut [u8]) -> Result<()> {
        self.bind()?;
        // SAFETY: as in `write`; the stream is drained before `dst` is returned to the caller.
        unsafe { result::memcpy_dtoh_async(dst, src, self.stream) }.map_err(driver("cuMemcpyDtoHAsync"))?;
        self.synchronize()
    }

    fn load(&self, module: &str, ptx: &str) -> Result<()> {
        let mut modules = self.modules.lock().unwrap();
        if modules.contains_key(module) {
            return Ok(());
        }
        self.bind()?;
        let ptx_err = |message: String| Error::Ptx { module: module.into(), message };
        let text = CString::new(ptx).map_err(|_| ptx_err("PTX text contains a NUL byte".into()))?;
        let mut log = vec![0u8; JIT_LOG_BYTES];
        let mut options =
            [sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER, sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES];
        // The driver reads option values as pointer-sized words: a pointer, then a byte count.
        let mut values = [log.as_mut_ptr().cast::<c_void>(), JIT_LOG_BYTES as *mut c_void];
        let mut handle = std::mem::MaybeUninit::uninit();
        // SAFETY: the text is NUL-terminated, the log buffer outlives the call, the option arrays match.
        let status = unsafe {
            sys::cuModuleLoadDataEx(
                handle.as_mut_ptr(),
                text.as_ptr().cast(),
                options.len() as u32,
                options.as_mut_ptr(),
                values.as_mut_ptr(),
            )
        };
        if status != sys::CUresult::CUDA_SUCCESS {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            return Err(ptx_err(format!("{status:?}: {}", String::from_utf8_lossy(&log[..end]).trim())));
        }
        // SAFETY: the call succeeded, so the handle is initialised.
        modules.insert(module.to_string(), unsafe { handle.assume_init() });
        Ok(())
    }

    fn launch(&self, module: &str, kernel: &str, cfg: &LaunchConfig, args: &[Arg]) -> Result<()> {
        self.bind()?;
        let f = self.function(module, kernel)?;
        // cuLaunchKernel takes one pointer per parameter, to that parameter's value; it copies the values
        // before returning, so they may live on this stack frame even though the launch is asynchronous.
        let mut values: Vec<u64> = args
            .iter()
            .map(|a| match *a {
                Arg::Ptr(v) | Arg::U64(v) => v,
                Arg::U32(v) => v as u64,
                Arg::I32(v) => v as u32 as u64,
                Arg::F32(v) => v.to_bits() as u64,
            })
            .collect();
        // Little-endian: the low 4 bytes of each u64 hold a 32-bit parameter, as the driver reads them.
        let mut params: Vec<*mut c_void> = values.iter_mut().map(|v| (v as *mut u64).cast()).collect();
        let (g, b) = (cfg.grid, cfg.block);
        // SAFETY: the function belongs to a loaded module; `params` matches the kernel's list (checked by
        // the driver only by count, so wrappers in this crate pass exactly the declared parameters).
        unsafe {
            result::launch_kernel(f, (g.x, g.y, g.z), (b.x, b.y, b.z), cfg.shared_bytes, self.stream, &mut params)
        }
        .map_err(|e| Error::Launch { kernel: format!("{module}::{kernel}"), message: format!("{e:?}") })
    }

    fn synchronize(&self) -> Result<()> {
        self.bind()?;
        // SAFETY: the stream lives as long as `self`.
        unsafe { result::stream::synchronize(self.stream) }.map_err(driver("cuStreamSynchronize"))
    }
}

impl Drop for Cuda {
    fn drop(&mut self) {
        // Errors at teardown cannot be reported; the driver reclaims everything at process exit anyway.
        let _ = self.bind();
        // SAFETY: nothing else holds these handles once the backend is dropped.
        unsafe {
            let _ = result::stream::synchronize(self.stream);
            for (_, m) in self.modules.lock().unwrap().drain() {
                let _ = result::module::unload(m);
            }
            let _ = result::stream::destroy(self.stream);
            let _ = result::primary_ctx::release(self.device);
        }
    }
}
