//! Every module `dump_ptx` writes (generated variants included) has a unique name, the project's PTX
//! header, and loads on the test backend.
mod common;

#[test]
fn every_module_is_named_once_has_the_header_and_loads() {
    let modules = kernels::ptx::all();
    let mut names: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), modules.len(), "two modules share a name");
    for m in &modules {
        assert!(m.ptx.contains(kernels::ptx::HEADER), "{}: no `.version 8.0 / sm_80 / 64-bit` header", m.name);
    }
    let Some(gpu) = common::gpu() else { return };
    for m in &modules {
        gpu.load(&m.name, &m.ptx).unwrap_or_else(|e| panic!("{} does not load: {e}", m.name));
    }
}
