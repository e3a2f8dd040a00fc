//! Whole kernels on the interpreter: a tiled f32 GEMM and a layernorm, against CPU references;
//! and the trace of one thread.

mod interp_util;

use std::sync::Arc;

use interp_util::*;
use kernels::interp::{Interpreter, TraceTarget};
use kernels::{Arg, Dim3, Gpu, LaunchConfig};

/// Deterministic values in [-1, 1).
fn data(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(12345);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

fn gemm_launch(gpu: &Gpu, m: usize, n: usize, k: usize) -> (Vec<f32>, Vec<f32>) {
    let (a, b) = (data(m * k, 1), data(k * n, 2));
    let (da, db, dc) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap(), zeros::<f32>(gpu, m * n));
    let cfg =
        LaunchConfig { grid: Dim3::new(n as u32 / 16, m as u32 / 16, 1), block: Dim3::new(16, 16, 1), shared_bytes: 0 };
    let args = [da.arg(), db.arg(), dc.arg(), Arg::U32(m as u32), Arg::U32(n as u32), Arg::U32(k as u32)];
    gpu.launch("programs", "sgemm_tiled", &cfg, &args).unwrap();
    let mut reference = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            reference[i * n + j] = (0..k).map(|kk| a[i * k + kk] as f64 * b[kk * n + j] as f64).sum::<f64>() as f32;
        }
    }
    (dc.read().unwrap(), reference)
}

#[test]
fn tiled_sgemm_64x64x64_matches_cpu() {
    let gpu = gpu_with("programs");
    let (got, reference) = gemm_launch(&gpu, 64, 64, 64);
    for (i, (g, r)) in got.iter().zip(&reference).enumerate() {
        assert!((g - r).abs() <= 1e-4 * (1.0 + r.abs()), "C[{}][{}]: {g} vs {r}", i / 64, i % 64);
    }
}

#[test]
fn layernorm_rows_of_384_match_cpu() {
    let gpu = gpu_with("programs");
    let (rows, cols, eps) = (4usize, 384usize, 1e-5f32);
    let x: Vec<f32> = data(rows * cols, 3).iter().enumerate().map(|(i, v)| v * 3.0 + (i / cols) as f32).collect();
    let (gamma, beta) = (data(cols, 4), data(cols, 5));
    let dx = gpu.upload(&x).unwrap();
    let (dg, db) = (gpu.upload(&gamma).unwrap(), gpu.upload(&beta).unwrap());
    let (dy, dmean, drstd) = (zeros::<f32>(&gpu, rows * cols), zeros::<f32>(&gpu, rows), zeros::<f32>(&gpu, rows));
    let args = [dx.arg(), dg.arg(), db.arg(), dy.arg(), dmean.arg(), drstd.arg(), Arg::U32(cols as u32), Arg::F32(eps)];
    gpu.launch("programs", "layernorm", &cfg(rows as u32, 128), &args).unwrap();
    let (y, mean, rstd) = (dy.read().unwrap(), dmean.read().unwrap(), drstd.read().unwrap());
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let mu = row.iter().map(|&v| v as f64).sum::<f64>() / cols as f64;
        let var = row.iter().map(|&v| (v as f64 - mu).powi(2)).sum::<f64>() / cols as f64;
        let rs = 1.0 / (var + eps as f64).sqrt();
        assert!((mean[r] as f64 - mu).abs() < 1e-5 * (1.0 + mu.abs()), "row {r} mean {} vs {mu}", mean[r]);
        assert!((rstd[r] as f64 - rs).abs() < 1e-5 * rs, "row {r} rstd {} vs {rs}", rstd[r]);
        for c in 0..cols {
            let e = (row[c] as f64 - mu) * rs * gamma[c] as f64 + beta[c] as f64;
            let g = y[r * cols + c] as f64;
            assert!((g - e).abs() < 1e-5 * (1.0 + e.abs()), "y[{r}][{c}]: {g} vs {e}");
        }
    }
}

#[test]
fn trace_shows_one_threads_reads_and_writes() {
    let target = TraceTarget { ctaid: [1, 0, 0], tid: [5, 0, 0] };
    assert_eq!(TraceTarget::parse("1,0,5").unwrap(), target);
    assert!(TraceTarget::parse("1,x").is_err());
    let interp = Arc::new(Interpreter::new().with_trace(target));
    let gpu = Gpu::new(interp.clone());
    gpu.load("warp", &ptx("warp")).unwrap();
    let out = zeros::<u32>(&gpu, 9 * 32);
    gpu.launch("warp", "shuffles", &cfg(1, 32), &[out.arg()]).unwrap();
    assert!(interp.trace_lines().is_empty(), "CTA 0 is not the traced one");
    let counters = zeros::<u32>(&gpu, 8);
    let (f, w) = (zeros::<f32>(&gpu, 1), zeros::<u64>(&gpu, 1));
    gpu.launch("warp", "atomics", &cfg(2, 32), &[counters.arg(), f.arg(), w.arg()]).unwrap();
    let lines = interp.trace_lines();
    let find = |s: &str| lines.iter().find(|l| l.contains(s)).unwrap_or_else(|| panic!("no {s:?} in {lines:#?}"));
    assert!(find("mad.lo.u32 %r4, %r2, %r3, %r1").contains("reads %r2=1 (0x1) %r3=32 (0x20) %r1=5 (0x5)"));
    assert!(find("mad.lo.u32 %r4").contains("writes %r4=37"));
    assert!(find("sub.s32 %r6, %r1, 64").contains("writes %r6=4294967237 (0xffffffc5)"));
    assert!(find("@%p1 bra INIT_DONE").contains("reads %p1=true"));
    let atom = find("atom.global.add.u32 %r5, [%rd1], 1");
    assert!(atom.contains(&format!("address 0x{:x}", counters.ptr())) && atom.contains("writes %r5="), "{atom}");
}
