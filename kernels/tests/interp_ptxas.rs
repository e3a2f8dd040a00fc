//! The test programs are real PTX: each one assembles with NVIDIA's ptxas for sm_80 and sm_90a.
//! ptxas comes from the Python package `nvidia-cuda-nvcc-cu12`; point `PTXAS` at it (or put it on
//! PATH). Without it the test says it was skipped.

use std::path::PathBuf;
use std::process::Command;

fn ptxas() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PTXAS") {
        return Some(PathBuf::from(p));
    }
    let found = Command::new("ptxas").arg("--version").output().is_ok_and(|o| o.status.success());
    found.then(|| PathBuf::from("ptxas"))
}

#[test]
fn every_test_program_assembles_for_sm80_and_sm90a() {
    let Some(ptxas) = ptxas() else {
        eprintln!("skipped: ptxas not found (set PTXAS=/path/to/ptxas)");
        return;
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ptx");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/ptx")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ptx"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "expected the interpreter's test programs in {}", dir.display());
    for file in &files {
        for arch in ["sm_80", "sm_90a"] {
            let out = Command::new(&ptxas)
                .args(["--gpu-name", arch, "-o", "/dev/null"])
                .arg(file)
                .output()
                .expect("run ptxas");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "ptxas {arch} rejects {}:\n{err}", file.display());
        }
    }
}
