//! Helpers shared by the kernel tests: the device, deterministic inputs, tolerance checks.
#![allow(dead_code)] // each test binary uses its own subset

use kernels::Gpu;

/// The device the tests run on (`Gpu::best()`: the real GPU when present, else the interpreter), or
/// `None` with a message when the backend cannot run anything yet (the interpreter placeholder).
pub fn gpu() -> Option<Gpu> {
    let gpu = Gpu::best().expect("no backend");
    match gpu.alloc::<f32>(1) {
        Ok(_) => Some(gpu),
        Err(e) => {
            // Written past the test harness's capture, so the skip shows even when the test "passes".
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED: {} cannot run kernels yet ({e})", gpu.name());
            None
        }
    }
}

/// `n` deterministic values in [-scale, scale) from a seed (a 64-bit LCG, high bits).
pub fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// Asserts `|got - want| <= atol + rtol * |want|` elementwise, naming the first offender.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= atol + rtol * w.abs();
        assert!(ok, "{what}: element {i}: got {g}, want {w} (atol {atol}, rtol {rtol})");
    }
}
