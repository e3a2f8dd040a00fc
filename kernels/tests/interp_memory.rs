//! Loads and stores of every width, vector accesses, local and generic addressing, cp.async.

mod interp_util;

use interp_util::*;
use kernels::LaunchConfig;

#[test]
fn load_widths_sign_extension_and_vectors() {
    let gpu = gpu_with("memory");
    let input = gpu.upload(&(0x80u8..0x90).collect::<Vec<u8>>()).unwrap();
    let (out, out64) = (zeros::<u32>(&gpu, 14), zeros::<u64>(&gpu, 3));
    gpu.launch("memory", "widths", &cfg(1, 1), &[input.arg(), out.arg(), out64.arg()]).unwrap();
    let expected = [
        0xFFFF_FF80,
        0x80,
        0xFFFF_8382,
        0x8382,
        0x8B8A_8988,
        0x8F8E_8D8C,
        0x8B8A_8988,
        0x8F8E_8D8C,
        0x8382_8180,
        0x8786_8584,
        0x8B8A_8988,
        0x8F8E_8D8C,
        0x8584,
        1234,
    ];
    assert_eq!(out.read().unwrap(), expected);
    let x = 0x8F8E_8D8C_8B8A_8988u64;
    assert_eq!(out64.read().unwrap(), [x, x, 1234 & 0xFF]);
}

#[test]
fn cp_async_copies_with_zero_fill_at_wait() {
    let gpu = gpu_with("memory");
    let src: Vec<f32> = (0..64).map(|i| i as f32 + 0.5).collect();
    let (s, d) = (gpu.upload(&src).unwrap(), zeros::<f32>(&gpu, 64));
    gpu.launch("memory", "async_copy", &cfg(1, 16), &[s.arg(), d.arg()]).unwrap();
    let mut expected = src.clone();
    expected[14] = 0.0; // thread 3 reads 8 of its 16 bytes; the rest is zero-filled
    expected[15] = 0.0;
    assert_eq!(d.read().unwrap(), expected);
}

#[test]
fn generic_addresses_and_dynamic_shared_memory() {
    let gpu = gpu_with("memory");
    let out = zeros::<u32>(&gpu, 4);
    let cfg = LaunchConfig { shared_bytes: 16, ..cfg(1, 4) };
    gpu.launch("memory", "generic", &cfg, &[out.arg()]).unwrap();
    assert_eq!(out.read().unwrap(), [95; 4], "flag[2] (42, via cvta) + dyn[3] (53)");
}
