//! Warp shuffles, votes and atomics in the interpreter.

mod interp_util;

use interp_util::*;

#[test]
fn shuffle_modes_clamps_and_votes() {
    let gpu = gpu_with("warp");
    let out = zeros::<u32>(&gpu, 9 * 32);
    gpu.launch("warp", "shuffles", &cfg(1, 32), &[out.arg()]).unwrap();
    let got = out.read().unwrap();
    let v = |l: usize| 10 * l as u32 + 1;
    let row = |k: usize| &got[k * 32..k * 32 + 32];
    let ballot: u32 = (0..32).filter(|l| l % 3 == 0).map(|l| 1u32 << l).sum();
    for l in 0..32 {
        let down_ok = l + 3 <= 31;
        assert_eq!(row(0)[l], if down_ok { v(l + 3) } else { v(l) }, "down lane {l}");
        assert_eq!(row(1)[l], down_ok as u32, "down predicate lane {l}");
        assert_eq!(row(2)[l], if l >= 2 { v(l - 2) } else { v(l) }, "up lane {l}");
        assert_eq!(row(3)[l], v(l ^ 5), "bfly lane {l}");
        assert_eq!(row(4)[l], v(7), "idx lane {l}");
        assert_eq!(row(5)[l], v((l & 24) + 2), "segmented idx lane {l}");
        assert_eq!(row(6)[l], (0..32).map(v).sum::<u32>(), "butterfly sum lane {l}");
        assert_eq!(row(7)[l], 1, "vote.all lane {l}");
        assert_eq!(row(8)[l], 1 | ballot << 1, "vote.any and ballot lane {l}");
    }
}

#[test]
fn contended_atomics_count_every_thread() {
    let gpu = gpu_with("warp");
    let (ctas, block) = (4u32, 128u32);
    let n = ctas * block;
    let (counters, fsum, wide) = (zeros::<u32>(&gpu, 8), zeros::<f32>(&gpu, 1), zeros::<u64>(&gpu, 1));
    gpu.launch("warp", "atomics", &cfg(ctas, block), &[counters.arg(), fsum.arg(), wide.arg()]).unwrap();
    let c = counters.read().unwrap();
    assert_eq!(c[0], n, "atom.add");
    assert_eq!(c[1] as i32, block as i32 - 65, "atom.max.s32");
    assert_eq!(c[2] as i32, -64, "atom.min.s32");
    assert_eq!(c[3], 1, "atom.cas: only the first thread finds 0");
    assert_eq!(c[4], 2 * n, "red.add");
    assert_eq!(c[5], n % 10, "atom.inc wraps after 9");
    assert!((1..=n).contains(&c[6]), "atom.exch leaves one thread's value, got {}", c[6]);
    assert_eq!(c[7], n, "shared atom.add per CTA");
    assert_eq!(fsum.read().unwrap()[0], 0.5 * n as f32, "atom.add.f32");
    assert_eq!(wide.read().unwrap()[0], (n as u64) << 32, "atom.add.u64");
}

#[test]
fn redux_over_a_subset_of_lanes() {
    let gpu = gpu_with("warp");
    let out = zeros::<u32>(&gpu, 4);
    gpu.launch("warp", "reductions", &cfg(1, 32), &[out.arg()]).unwrap();
    let odd = (1..32u32).step_by(2);
    let expected =
        [odd.clone().sum(), (-1i32) as u32, odd.clone().fold(u32::MAX, |a, b| a & b), odd.fold(0, |a, b| a | b)];
    assert_eq!(out.read().unwrap(), expected);
}
