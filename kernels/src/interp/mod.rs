//! The PTX interpreter (issue 8): to be written.
use crate::{Arg, Backend, Error, LaunchConfig, Result};

/// Executes PTX on the CPU with the CUDA execution model.
#[derive(Default)]
pub struct Interpreter {}

impl Interpreter {
    pub fn new() -> Self {
        Self {}
    }
}

impl Backend for Interpreter {
    fn name(&self) -> String {
        "PTX interpreter".into()
    }
    fn alloc(&self, _bytes: usize) -> Result<u64> {
        Err(Error::Interpreter("not yet written".into()))
    }
    fn free(&self, _ptr: u64) -> Result<()> {
        Err(Error::Interpreter("not yet written".into()))
    }
    fn write(&self, _dst: u64, _src: &[u8]) -> Result<()> {
        Err(Error::Interpreter("not yet written".into()))
    }
    fn read(&self, _src: u64, _dst: &mut [u8]) -> Result<()> {
        Err(Error::Interpreter("not yet written".into()))
    }
    fn load(&self, _module: &str, _ptx: &str) -> Result<()> {
        Err(Error::Interpreter("not yet written".into()))
    }
    fn launch(&self, _module: &str, _kernel: &str, _cfg: &LaunchConfig, _args: &[Arg]) -> Result<()> {
        Err(Error::Interpreter("not yet written".into()))
    }
    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
}
