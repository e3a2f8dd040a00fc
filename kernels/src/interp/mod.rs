//! The PTX interpreter: runs the project's PTX on the CPU with the CUDA execution model (a grid of
//! CTAs, warps of 32 lanes in lockstep, barriers, shared memory) and checks what a GPU would not
//! report clearly: out-of-bounds and misaligned accesses, shared-memory races, divergent barriers,
//! reads of uninitialised registers and of never-written global memory. See `kernels/INTERPRETER.md` for what is supported and how.
//!
//! - [`lexer`], [`parser`], [`decode`] (with [`opcode`]) → [`ast`]: text to decoded instructions, once per
//!   module.
//! - [`exec`]: the grid, CTA and warp scheduling, divergence; [`warp`]: registers and lanes.
//! - [`ops`]: instruction families; [`mma`]: ldmatrix and mma.sync; [`memory`]: global memory.
//! - [`checks`]: faults and the shared-memory race detector; [`trace`]: the per-thread trace.

pub mod ast;
pub mod checks;
pub mod decode;
pub mod exec;
pub mod lexer;
pub mod memory;
pub mod mma;
pub mod opcode;
pub mod ops;
pub mod parser;
pub mod trace;
pub mod warp;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{Arg, Backend, Error, LaunchConfig, Result};
use ast::Module;
use memory::GlobalMem;
pub use trace::TraceTarget;

/// Largest CTA the interpreter accepts, as on every GPU the project targets.
const MAX_THREADS_PER_CTA: u64 = 1024;
/// Most shared memory one CTA may have on sm_90 (227 KiB; sm_80 allows 163 KiB).
const MAX_SHARED_PER_CTA: u64 = 227 * 1024;

/// Executes PTX on the CPU with the CUDA execution model.
pub struct Interpreter {
    state: Mutex<State>,
    trace: Option<TraceTarget>,
    check_races: bool,
    step_limit: u64,
}

#[derive(Default)]
struct State {
    mem: GlobalMem,
    modules: HashMap<String, Arc<Module>>,
    trace_lines: Vec<String>,
}

impl Default for Interpreter {
    fn default() -> Self {
        Self::new()
    }
}

impl Interpreter {
    /// An interpreter with no memory and no modules; traces the thread `CAE_PTX_TRACE` names, if set.
    pub fn new() -> Self {
        let trace = std::env::var("CAE_PTX_TRACE").ok().and_then(|s| match TraceTarget::parse(&s) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("{e}; tracing is off");
                None
            }
        });
        Self { state: Mutex::new(State::default()), trace, check_races: true, step_limit: exec::DEFAULT_STEP_LIMIT }
    }

    /// Lets kernels load global bytes that nothing has written (they read as 0xCD).
    pub fn without_uninit_check(self) -> Self {
        self.lock().mem.check_uninit = false;
        self
    }

    /// Traces one thread of every launch (printed to stderr, kept for [`Self::trace_lines`]).
    pub fn with_trace(mut self, target: TraceTarget) -> Self {
        self.trace = Some(target);
        self
    }

    /// Turns the shared-memory race detector off (it costs time on large launches).
    pub fn without_race_check(mut self) -> Self {
        self.check_races = false;
        self
    }

    /// Fails a launch once a warp has executed `steps` instructions (a hang detector).
    pub fn with_step_limit(mut self, steps: u64) -> Self {
        self.step_limit = steps;
        self
    }

    /// The trace lines recorded so far.
    pub fn trace_lines(&self) -> Vec<String> {
        self.lock().trace_lines.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside a launch leaves nothing half-written that later calls rely on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `.param` bytes of a launch, checked against the kernel's parameter list.
fn param_bytes(kernel: &ast::Kernel, args: &[Arg]) -> Result<Vec<u8>> {
    let err = |message: String| Error::Launch { kernel: kernel.name.clone(), message };
    if args.len() != kernel.params.len() {
        return Err(err(format!("{} arguments given, the kernel takes {}", args.len(), kernel.params.len())));
    }
    let size = kernel.params.last().map_or(0, |p| p.offset + p.size) as usize;
    let mut out = vec![0u8; size];
    for (p, a) in kernel.params.iter().zip(args) {
        let b = a.bytes();
        if b.len() != p.size as usize {
            return Err(err(format!("argument {a:?} has {} bytes but parameter {} has {}", b.len(), p.name, p.size)));
        }
        out[p.offset as usize..p.offset as usize + b.len()].copy_from_slice(&b);
    }
    Ok(out)
}

impl Backend for Interpreter {
    fn name(&self) -> String {
        "PTX interpreter".into()
    }

    fn alloc(&self, bytes: usize) -> Result<u64> {
        Ok(self.lock().mem.alloc(bytes))
    }

    fn free(&self, ptr: u64) -> Result<()> {
        self.lock().mem.free(ptr).map_err(Error::Memory)
    }

    fn recycle(&self, ptr: u64, bytes: usize) -> Result<()> {
        self.lock().mem.recycle(ptr, bytes).map_err(Error::Memory)
    }

    fn write(&self, dst: u64, src: &[u8]) -> Result<()> {
        self.lock().mem.write(dst, src).map_err(Error::Memory)
    }

    fn read(&self, src: u64, dst: &mut [u8]) -> Result<()> {
        self.lock().mem.read(src, dst).map_err(Error::Memory)
    }

    fn load(&self, module: &str, ptx: &str) -> Result<()> {
        if self.lock().modules.contains_key(module) {
            return Ok(());
        }
        let parsed = parser::parse(ptx).map_err(|message| Error::Ptx { module: module.into(), message })?;
        self.lock().modules.insert(module.into(), Arc::new(parsed));
        Ok(())
    }

    fn launch(&self, module: &str, kernel: &str, cfg: &LaunchConfig, args: &[Arg]) -> Result<()> {
        let mut state = self.lock();
        let unknown = || Error::UnknownKernel { module: module.into(), kernel: kernel.into() };
        let m = state.modules.get(module).cloned().ok_or_else(unknown)?;
        let k = m.kernels.get(kernel).ok_or_else(unknown)?;
        let threads = cfg.block.count();
        if threads == 0 || threads > MAX_THREADS_PER_CTA || cfg.grid.count() == 0 {
            let message = format!("invalid launch shape: grid {:?}, block {:?}", cfg.grid, cfg.block);
            return Err(Error::Launch { kernel: kernel.into(), message });
        }
        let shared = if cfg.shared_bytes == 0 { k.static_shared } else { k.dyn_shared_offset + cfg.shared_bytes };
        if shared as u64 > MAX_SHARED_PER_CTA {
            let message = format!("{shared} bytes of shared memory exceed the {MAX_SHARED_PER_CTA} a CTA may have");
            return Err(Error::Launch { kernel: kernel.into(), message });
        }
        let params = param_bytes(k, args)?;
        let launch = exec::Launch {
            kernel: k,
            params: &params,
            cfg: *cfg,
            check_races: self.check_races,
            step_limit: self.step_limit,
        };
        let mut tracer = self.trace.map(trace::Tracer::new);
        let result = exec::run(&launch, &mut state.mem, &mut tracer);
        if let Some(t) = tracer {
            state.trace_lines.extend(t.lines);
        }
        result.map_err(Error::Interpreter)
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
}
