//! Divergence, reconvergence and barriers in the interpreter.

mod interp_util;

use interp_util::*;

#[test]
fn nested_branches_and_per_lane_loops_reconverge() {
    let gpu = gpu_with("control");
    let threads = 64;
    let (out, ballots) = (zeros::<u32>(&gpu, threads), zeros::<u32>(&gpu, 3 * threads));
    gpu.launch("control", "diverge", &cfg(1, threads as u32), &[out.arg(), ballots.arg()]).unwrap();
    let got = out.read().unwrap();
    for t in 0..threads as u32 {
        let base = if t % 2 == 0 {
            30
        } else if t & 2 != 0 {
            10
        } else {
            20
        };
        let m = t % 5;
        assert_eq!(got[t as usize], base + m * (m + 1) / 2 + 1000 * (t / 3), "thread {t}");
    }
    for (t, b) in ballots.read().unwrap().chunks(3).enumerate() {
        assert_eq!(b[0], 0x5555_5555, "thread {t}: ballot of even lanes after the if/else");
        assert_eq!(b[1], 0xFFFF_FFFF, "thread {t}: all lanes active after the loop");
        assert_eq!(b[2], 0xFFFF_FFFF, "thread {t}: all lanes meet after the break");
    }
}

#[test]
fn shared_memory_tree_reduction_with_barriers() {
    let gpu = gpu_with("control");
    let (ctas, block) = (4usize, 256usize);
    let input: Vec<f32> = (0..ctas * block).map(|i| (i % 7) as f32 - 2.0).collect();
    let inp = gpu.upload(&input).unwrap();
    let out = zeros::<f32>(&gpu, ctas);
    gpu.launch("control", "block_sum", &cfg(ctas as u32, block as u32), &[inp.arg(), out.arg()]).unwrap();
    let expected: Vec<f32> = input.chunks(block).map(|c| c.iter().sum()).collect();
    assert_eq!(out.read().unwrap(), expected);
}

#[test]
fn lanes_arriving_late_at_a_shuffle_are_waited_for() {
    let gpu = gpu_with("control");
    let out = zeros::<u32>(&gpu, 64);
    gpu.launch("control", "out_of_line", &cfg(1, 64), &[out.arg()]).unwrap();
    let v = |t: u32| if t % 2 == 1 { 100 * t } else { t };
    assert_eq!(out.read().unwrap(), (0..64).map(|t| v(t ^ 1)).collect::<Vec<u32>>());
}
