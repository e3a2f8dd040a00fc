//! ldmatrix fragment layouts and mma.sync against a CPU matrix product.

mod interp_util;

use half::{bf16, f16};
use interp_util::*;

#[test]
fn ldmatrix_fragments_match_the_isa_layout() {
    let gpu = gpu_with("tensor");
    let src: Vec<u16> = (0..256).collect();
    let s = gpu.upload(&src).unwrap();
    let (out, out_t, out2) = (zeros::<u32>(&gpu, 128), zeros::<u32>(&gpu, 128), zeros::<u32>(&gpu, 64));
    gpu.launch("tensor", "ldmatrix_layout", &cfg(1, 32), &[s.arg(), out.arg(), out_t.arg(), out2.arg()]).unwrap();
    // Element (r, c) of matrix i is row 8i + r of the source: value 64i + 8r + c.
    let m = |i: u32, r: u32, c: u32| 64 * i + 8 * r + c;
    let pack = |lo: u32, hi: u32| hi << 16 | lo;
    let (got, got_t, got2) = (out.read().unwrap(), out_t.read().unwrap(), out2.read().unwrap());
    for t in 0..32u32 {
        let (r, c) = (t / 4, 2 * (t % 4));
        for i in 0..4 {
            let k = (4 * t + i) as usize;
            assert_eq!(got[k], pack(m(i, r, c), m(i, r, c + 1)), "x4 lane {t} register {i}");
            assert_eq!(got_t[k], pack(m(i, c, r), m(i, c + 1, r)), "x4.trans lane {t} register {i}");
        }
        for i in 0..2 {
            assert_eq!(got2[(2 * t + i) as usize], pack(m(i, r, c), m(i, r, c + 1)), "x2 lane {t} register {i}");
        }
    }
}

/// Small exactly-representable values so that the reference is exact.
fn value(i: usize, salt: usize) -> f32 {
    ((i * 7 + salt * 3) % 17) as f32 * 0.25 - 2.0
}

fn matmul(a: &[f32], b: &[f32], c: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
    let mut d = c.to_vec();
    for i in 0..m {
        for j in 0..n {
            d[i * n + j] += (0..k).map(|kk| a[i * k + kk] as f64 * b[kk * n + j] as f64).sum::<f64>() as f32;
        }
    }
    d
}

#[test]
fn mma_bf16_m16n8k16_matches_cpu_matmul() {
    let gpu = gpu_with("tensor");
    let a: Vec<f32> = (0..256).map(|i| value(i, 1)).collect();
    let b: Vec<f32> = (0..128).map(|i| value(i, 2)).collect(); // 16x8 row-major (k, n)
    let c: Vec<f32> = (0..128).map(|i| value(i, 3)).collect();
    let a16: Vec<u16> = a.iter().map(|&x| bf16::from_f32(x).to_bits()).collect();
    let b_colmajor: Vec<u16> = (0..128).map(|i| bf16::from_f32(b[(i % 16) * 8 + i / 16]).to_bits()).collect();
    let (da, db, dc) = (gpu.upload(&a16).unwrap(), gpu.upload(&b_colmajor).unwrap(), gpu.upload(&c).unwrap());
    let d = zeros::<f32>(&gpu, 128);
    gpu.launch("tensor", "mma_bf16", &cfg(1, 32), &[da.arg(), db.arg(), dc.arg(), d.arg()]).unwrap();
    assert_eq!(d.read().unwrap(), matmul(&a, &b, &c, 16, 8, 16));

    let b16: Vec<u16> = b.iter().map(|&x| bf16::from_f32(x).to_bits()).collect();
    let (db, d) = (gpu.upload(&b16).unwrap(), zeros::<f32>(&gpu, 128));
    gpu.launch("tensor", "mma_ldmatrix", &cfg(1, 32), &[da.arg(), db.arg(), d.arg()]).unwrap();
    assert_eq!(d.read().unwrap(), matmul(&a, &b, &vec![0.0; 128], 16, 8, 16), "ldmatrix-fed mma");
}

#[test]
fn mma_f16_m16n8k8_matches_cpu_matmul() {
    let gpu = gpu_with("tensor");
    let a: Vec<f32> = (0..128).map(|i| value(i, 4)).collect(); // 16x8
    let b: Vec<f32> = (0..64).map(|i| value(i, 5)).collect(); // 8x8 (k, n)
    let c: Vec<f32> = (0..128).map(|i| value(i, 6)).collect();
    let a16: Vec<u16> = a.iter().map(|&x| f16::from_f32(x).to_bits()).collect();
    let b_colmajor: Vec<u16> = (0..64).map(|i| f16::from_f32(b[(i % 8) * 8 + i / 8]).to_bits()).collect();
    let (da, db, d) = (gpu.upload(&a16).unwrap(), gpu.upload(&b_colmajor).unwrap(), gpu.upload(&c).unwrap());
    gpu.launch("tensor", "mma_f16_k8", &cfg(1, 32), &[da.arg(), db.arg(), d.arg()]).unwrap();
    assert_eq!(d.read().unwrap(), matmul(&a, &b, &c, 16, 8, 8));
}

#[test]
fn mma_f16_accumulators_pack_rows_in_pairs() {
    let gpu = gpu_with("tensor");
    let a: Vec<f32> = (0..256).map(|i| value(i, 7)).collect();
    let b: Vec<f32> = (0..128).map(|i| value(i, 8)).collect(); // 16x8 (k, n)
    let c: Vec<f32> = (0..128).map(|i| value(i, 9)).collect(); // 16x8
    let h = |v: &[f32]| v.iter().map(|&x| f16::from_f32(x).to_bits()).collect::<Vec<u16>>();
    let b_colmajor: Vec<f32> = (0..128).map(|i| b[(i % 16) * 8 + i / 16]).collect();
    let (da, db, dc) = (gpu.upload(&h(&a)).unwrap(), gpu.upload(&h(&b_colmajor)).unwrap(), gpu.upload(&h(&c)).unwrap());
    let d = zeros::<u16>(&gpu, 128);
    gpu.launch("tensor", "mma_f16_acc", &cfg(1, 32), &[da.arg(), db.arg(), dc.arg(), d.arg()]).unwrap();
    let got: Vec<f32> = d.read().unwrap().iter().map(|&x| f16::from_bits(x).to_f32()).collect();
    let expected: Vec<f32> = matmul(&a, &b, &c, 16, 8, 16).iter().map(|&x| f16::from_f32(x).to_f32()).collect();
    assert_eq!(got, expected);
}

#[test]
fn pipelined_cp_async_ldmatrix_mma_gemm() {
    let gpu = gpu_with("tensor");
    let (m, n, k) = (32, 8, 64);
    let a: Vec<f32> = (0..m * k).map(|i| value(i, 10)).collect();
    let b: Vec<f32> = (0..k * n).map(|i| value(i, 11)).collect();
    let bf = |v: &[f32]| v.iter().map(|&x| bf16::from_f32(x).to_bits()).collect::<Vec<u16>>();
    let (da, db, d) = (gpu.upload(&bf(&a)).unwrap(), gpu.upload(&bf(&b)).unwrap(), zeros::<f32>(&gpu, m * n));
    gpu.launch("tensor", "gemm_pipelined", &cfg(1, 64), &[da.arg(), db.arg(), d.arg()]).unwrap();
    assert_eq!(d.read().unwrap(), matmul(&a, &b, &vec![0.0; m * n], m, n, k));
}

#[test]
fn reusing_a_cp_async_buffer_without_a_barrier_is_a_race() {
    let fixed = ptx("tensor");
    let trailing = "    bar.sync 0;\n    mov.u32 %r21, %r22;";
    assert!(fixed.contains(trailing), "the pipelined GEMM changed; update this test");
    let broken = fixed.replace(trailing, "    mov.u32 %r21, %r22;");
    let gpu = kernels::Gpu::interpreter();
    gpu.load("broken", &broken).unwrap();
    let (da, db, d) = (zeros::<u16>(&gpu, 32 * 64), zeros::<u16>(&gpu, 64 * 8), zeros::<f32>(&gpu, 32 * 8));
    let msg = launch_err(&gpu, "broken", "gemm_pipelined", cfg(1, 64), &[da.arg(), db.arg(), d.arg()]);
    eprintln!("{msg}");
    assert!(msg.contains("kernel gemm_pipelined") && msg.contains("shared-memory race"), "{msg}");
    assert!(msg.contains("cp.async") || msg.contains("ldmatrix"), "{msg}");
}
