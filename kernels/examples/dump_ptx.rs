//! Writes every PTX module of the crate (generated variants included) to `DIR/<module>.ptx`, so that a
//! shell loop can assemble each with `ptxas` (see .ci/run): `cargo run -p kernels --example dump_ptx -- DIR`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/ptx".into()));
    std::fs::create_dir_all(&dir)?;
    let modules = kernels::ptx::all();
    for m in &modules {
        std::fs::write(dir.join(format!("{}.ptx", m.name)), &m.ptx)?;
    }
    println!("wrote {} PTX modules to {}", modules.len(), dir.display());
    Ok(())
}
