//! Integer, float and conversion instructions of the interpreter, against hand-computed values.

mod interp_util;

use interp_util::*;

#[test]
fn integer_predicate_and_selection_instructions() {
    let gpu = gpu_with("int_ops");
    let (out, out64) = (zeros::<u32>(&gpu, 38), zeros::<u64>(&gpu, 8));
    gpu.launch("int_ops", "int_ops", &cfg(1, 1), &[out.arg(), out64.arg()]).unwrap();
    let i = |v: i32| v as u32;
    let expected = [
        4,
        i(-10),
        i(-21),
        6,
        i(-5),
        i(-1),
        613_566_756,
        i(-3),
        7,
        7,
        i(-2),
        0x7FFF_FFFE,
        112,
        0x3030,
        0xF0FF,
        0xF00F,
        0xFFFF_0F0F,
        i(-7),
        3,
        8,
        29,
        0xE000_0000,
        79,
        11,
        22,
        0,
        1,
        1001,
        0xFFFF_FFFF,
        5,
        0x8866_4422,
        0x5678_1234,
        0x5678,
        1000,
        3,
        0x12,
        i(-1),
        0xFFFF_FF5F,
    ];
    let got = out.read().unwrap();
    for (k, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(*g, e, "word {k} (byte offset {}): got 0x{g:x}, expected 0x{e:x}", 4 * k);
    }
    let big = 0xFFFF_FFFD_0000_0007u64;
    let expected64 = [
        (-21i64) as u64,
        28,
        0xFFFF_FFFDu64 * 7,
        big,
        0x0FFF_FFD0_0000_0070,
        (-3i64) as u64,
        0xFFFF_FFFD,
        ((big as u128 * big as u128) >> 64) as u64,
    ];
    assert_eq!(out64.read().unwrap(), expected64);
}

/// Relative error allowed for the `.approx` functions (the hardware documents about 2 ulp for
/// ex2/lg2/rsqrt and an absolute 2^-20.9 for sin/cos; the interpreter is more accurate).
const APPROX_TOL: f32 = 1e-6;

#[test]
fn float_instructions_and_conversions() {
    let gpu = gpu_with("float_ops");
    let out = zeros::<u32>(&gpu, 41);
    gpu.launch("float_ops", "float_ops", &cfg(1, 1), &[out.arg(), kernels::Arg::F32(1.5)]).unwrap();
    let got = out.read().unwrap();
    let x = 1.5f32;
    let exact: [(usize, f32); 16] = [
        (0, -1.0),
        (1, 4.0),
        (2, -3.75),
        (3, 1.5 / -2.5),
        (4, 0.25),
        (5, -2.5),
        (6, 1.5),
        (7, -1.5),
        (8, 2.5),
        (9, 2.0),
        (10, 1.0 / -2.5),
        (20, -1.5),
        (26, 16_777_216.0),
        (27, 16_777_218.0),
        (28, 2.0),
        (29, 1.0),
    ];
    for (k, e) in exact {
        assert_eq!(f(got[k]), e, "word {k}");
    }
    let approx = [
        (11, x.exp2()),
        (12, x.log2()),
        (13, 1.0 / x.sqrt()),
        (14, x.sin()),
        (15, x.cos()),
        (16, (-2.5f32).tanh()),
        (17, 0.5),
        (18, 0.5),
        (19, x.sqrt()),
    ];
    for (k, e) in approx {
        assert!((f(got[k]) - e).abs() <= APPROX_TOL * e.abs().max(1.0), "word {k}: {} vs {e}", f(got[k]));
    }
    let ints = [(21, -2i32 as u32), (22, -3i32 as u32), (23, -2i32 as u32), (24, 2), (25, 0)];
    for (k, e) in ints {
        assert_eq!(got[k], e, "word {k}");
    }
    assert_eq!(got[30], 0x3F81, "cvt.rn.bf16.f32 rounds up past the midpoint");
    assert_eq!(got[31], 0x3F80, "cvt.rz.bf16.f32 truncates");
    assert_eq!(got[32], 0x3FC0_C020, "cvt.rn.bf16x2.f32 puts the first source in the upper half");
    assert_eq!(f(got[33]), 1.0);
    assert_eq!(got[34], 0x3E00);
    assert_eq!(f(got[35]), 1.5);
    let sum = 1.5f64 + 0.1;
    assert_eq!(f(got[36]), sum as f32);
    assert!(f(got[37]) < f(got[36]) && f(got[37]) as f64 <= sum, "cvt.rz.f32.f64 truncates toward zero");
    assert_eq!(got[38], 255);
    assert_eq!(got[39], 0x3F80_0000);
    assert_eq!(got[40], 0);
}

#[test]
fn packed_half_and_bf16_arithmetic() {
    let gpu = gpu_with("float_ops");
    let out = zeros::<u32>(&gpu, 7);
    gpu.launch("float_ops", "half_ops", &cfg(1, 1), &[out.arg()]).unwrap();
    let got = out.read().unwrap();
    assert_eq!(got[0], 0x4200_4500, "add.f16x2: {{3, 5}}");
    assert_eq!(got[1], 0x4200_4800, "fma.rn.f16x2: {{3, 8}}");
    assert_eq!(got[2], 0x4000_40C0, "fma.rn.bf16x2: {{2, 6}}");
    assert_eq!(got[3], 0x3F80_4000, "max.bf16x2: {{1, 2}}");
    assert_eq!(got[4], 0xBC00_C000, "neg.f16x2: {{-1, -2}}");
    assert_eq!(f(got[5]), 2.0, "the upper half of a b32 unpacks into the second register");
    assert_eq!(got[6], 0x4500, "add.f16: 3 + 2");
}
