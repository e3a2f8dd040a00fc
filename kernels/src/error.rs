//! The one error type of the crate: every failure names what it was doing.

/// Errors from the GPU backends.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No CUDA driver library could be loaded, or no device is present; callers fall back to the CPU.
    #[error("CUDA unavailable: {0}")]
    Unavailable(String),
    /// A CUDA driver call failed.
    #[error("CUDA driver: {0}")]
    Driver(String),
    /// PTX text that could not be parsed or assembled (module, line, reason).
    #[error("PTX {module}: {message}")]
    Ptx { module: String, message: String },
    /// A module or kernel name that was never loaded.
    #[error("unknown kernel {module}::{kernel}")]
    UnknownKernel { module: String, kernel: String },
    /// Arguments that do not match the kernel's parameter list, or an invalid launch shape.
    #[error("launch of {kernel}: {message}")]
    Launch { kernel: String, message: String },
    /// A fault the interpreter detected while running a kernel (out-of-bounds access, race, ...),
    /// naming the kernel, the instruction and the thread.
    #[error("interpreter: {0}")]
    Interpreter(String),
    /// A host/device copy whose sizes do not match, or use of a freed buffer.
    #[error("memory: {0}")]
    Memory(String),
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
