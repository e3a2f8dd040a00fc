//! PTX text: the hand-written `.ptx` files of this folder and the Rust templates that generate the
//! variants differing only in parameters (tile sizes). [`all`] lists every module, for `dump_ptx` and CI.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::{Gpu, Result};

pub mod attention;
pub mod attention_backward;
pub mod gemm_mma;
pub mod gemm_regblock;
pub mod gemm_tiled;
pub mod map;
pub mod reduce_rows;
pub mod strided;

/// The first lines of every module: PTX ISA 8.0 (CUDA 12.0+), Ampere or newer, 64-bit addresses.
pub const HEADER: &str = ".version 8.0\n.target sm_80\n.address_size 64\n";

/// One PTX module: the name it is loaded under and its text.
#[derive(Clone, Debug)]
pub struct Module {
    /// Name the module is loaded (and cached) under; also the file name `dump_ptx` writes.
    pub name: String,
    /// Complete PTX text, header included.
    pub ptx: String,
}

/// Every module of every kernel family, generated variants included.
pub fn all() -> Vec<Module> {
    let mut out = Vec::new();
    out.extend(crate::gemm::modules());
    out.extend(crate::gemm_bf16::modules());
    out.extend(crate::softmax::modules());
    out.extend(crate::layernorm::modules());
    out.extend(crate::elementwise::modules());
    out.extend(crate::reduce::modules());
    out.extend(crate::cast::modules());
    out.extend(crate::cross_entropy::modules());
    out.extend(crate::gather::modules());
    out.extend(crate::adamw::modules());
    out.extend(crate::attention::modules());
    out.extend(crate::strided::modules());
    out.extend(crate::map::modules());
    out.extend(crate::reduce_rows::modules());
    out
}

/// Loads module `name` on `gpu`, generating its text only the first time this process asks for it
/// (the backend itself caches the loaded module by name).
pub fn load(gpu: &Gpu, name: &str, text: impl FnOnce() -> String) -> Result<()> {
    static TEXTS: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let texts = TEXTS.get_or_init(Default::default);
    let ptx: &'static str = {
        let mut map = texts.lock().unwrap();
        match map.get(name) {
            Some(&t) => t,
            // Leaked once per module name: a bounded set, alive for the whole process anyway.
            None => {
                let t: &'static str = Box::leak(text().into_boxed_str());
                map.insert(name.to_string(), t);
                t
            }
        }
    };
    gpu.load(name, ptx)
}

/// Appends formatted PTX lines to a `String` (templates build text with it).
macro_rules! emit {
    ($out:expr, $($fmt:tt)*) => {{
        use std::fmt::Write as _;
        writeln!($out, $($fmt)*).unwrap();
    }};
}
pub(crate) use emit;
