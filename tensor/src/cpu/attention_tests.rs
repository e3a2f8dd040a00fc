use super::*;

/// Deterministic values in [-1, 1).
fn data(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// f64 reference of one forward: (out, probs).
fn reference_forward(q: &[f32], k: &[f32], v: &[f32], dm: AttentionDims, scale: f64) -> (Vec<f64>, Vec<f64>) {
    let AttentionDims { bh, n, m, d, e } = dm;
    let (mut out, mut probs) = (vec![0.0; bh * n * e], vec![0.0; bh * n * m]);
    for b in 0..bh {
        for i in 0..n {
            let s: Vec<f64> = (0..m)
                .map(|j| {
                    (0..d).map(|c| q[(b * n + i) * d + c] as f64 * k[(b * m + j) * d + c] as f64).sum::<f64>() * scale
                })
                .collect();
            let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = s.iter().map(|x| (x - max).exp()).sum();
            for j in 0..m {
                let p = (s[j] - max).exp() / z;
                probs[(b * n + i) * m + j] = p;
                for c in 0..e {
                    out[(b * n + i) * e + c] += p * v[(b * m + j) * e + c] as f64;
                }
            }
        }
    }
    (out, probs)
}

/// Σ out·w for a fixed weight tensor `w`: a scalar loss whose gradient with respect to out is `w`.
fn loss(q: &[f32], k: &[f32], v: &[f32], dm: AttentionDims, scale: f64, w: &[f32]) -> f64 {
    reference_forward(q, k, v, dm, scale).0.iter().zip(w).map(|(o, &w)| o * w as f64).sum()
}

fn run(dm: AttentionDims, scale: f32) -> [Vec<f32>; 5] {
    let AttentionDims { bh, n, m, d, e } = dm;
    let (q, k, v) = (data(bh * n * d, 1), data(bh * m * d, 2), data(bh * m * e, 3));
    let dout = data(bh * n * e, 4);
    let (mut out, mut probs) = (vec![f32::NAN; bh * n * e], vec![f32::NAN; bh * n * m]);
    let (qb, kb, vb) = (Blocks::dense(&q, bh, n, d), Blocks::dense(&k, bh, m, d), Blocks::dense(&v, bh, m, e));
    attention_forward(&qb, &kb, &vb, dm, scale, &mut out, &mut probs);
    let (mut dq, mut dk, mut dv) = (vec![f32::NAN; q.len()], vec![f32::NAN; k.len()], vec![f32::NAN; v.len()]);
    let db = Blocks::dense(&dout, bh, n, e);
    attention_backward(&qb, &kb, &vb, &probs, &db, dm, scale, &mut dq, &mut dk, &mut dv);
    [out, probs, dq, dk, dv]
}

#[test]
fn forward_matches_the_f64_reference_on_awkward_shapes() {
    for (bh, n, m, d, e) in
        [(1, 1, 1, 1, 1), (3, 7, 5, 3, 4), (2, 99, 99, 16, 16), (5, 17, 40, 32, 8), (1, 33, 1, 64, 64)]
    {
        let dm = AttentionDims { bh, n, m, d, e };
        let scale = (d as f32).powf(-0.5);
        let [out, probs, ..] = run(dm, scale);
        let (q, k, v) = (data(bh * n * d, 1), data(bh * m * d, 2), data(bh * m * e, 3));
        let (want_out, want_p) = reference_forward(&q, &k, &v, dm, scale as f64);
        for (got, want) in out.iter().zip(&want_out).chain(probs.iter().zip(&want_p)) {
            assert!((*got as f64 - want).abs() < 1e-5, "{dm:?}: {got} vs {want}");
        }
    }
}

#[test]
fn backward_matches_finite_differences_of_the_reference() {
    let dm = AttentionDims { bh: 2, n: 5, m: 7, d: 3, e: 4 };
    let scale = 0.7;
    let [_, _, dq, dk, dv] = run(dm, scale);
    let AttentionDims { bh, n, m, d, e } = dm;
    let (q, k, v) = (data(bh * n * d, 1), data(bh * m * d, 2), data(bh * m * e, 3));
    let w = data(bh * n * e, 4); // dout
    let h = 1e-3f32;
    let numeric = |which: usize, i: usize| {
        let mut xs = [q.clone(), k.clone(), v.clone()];
        xs[which][i] += h;
        let up = loss(&xs[0], &xs[1], &xs[2], dm, scale as f64, &w);
        xs[which][i] -= 2.0 * h;
        let down = loss(&xs[0], &xs[1], &xs[2], dm, scale as f64, &w);
        (up - down) / (2.0 * h as f64)
    };
    for (which, grad) in [&dq, &dk, &dv].into_iter().enumerate() {
        for (i, &g) in grad.iter().enumerate() {
            let want = numeric(which, i);
            assert!((g as f64 - want).abs() < 2e-3, "input {which} element {i}: analytic {g} vs numeric {want}");
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let dm = AttentionDims { bh: 24, n: 19, m: 23, d: 8, e: 8 };
    let bits = |threads: usize| {
        let r = crate::cpu::in_pool(threads, || run(dm, 0.3));
        r.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>()
    };
    assert!(bits(1) == bits(3));
}

#[test]
fn empty_sides_give_zeros_not_garbage() {
    let [out, _, dq, dk, dv] = run(AttentionDims { bh: 2, n: 3, m: 0, d: 4, e: 5 }, 1.0);
    assert!(out.iter().chain(&dq).all(|&x| x == 0.0), "no keys: zero output and dq");
    assert!(dk.is_empty() && dv.is_empty());
    let [out, _, _, dk, dv] = run(AttentionDims { bh: 2, n: 0, m: 3, d: 4, e: 5 }, 1.0);
    assert!(out.is_empty() && dk.iter().chain(&dv).all(|&x| x == 0.0), "no queries: zero dk and dv");
}

/// Dense `[count, rows, cols]` values laid out as a ViT's heads are: `[rows, count, cols]` in memory
/// with a gap of `pad` unused values after each row of `count · cols` (like q inside `[N, 3, H, d]`).
fn interleaved(dense: &[f32], count: usize, rows: usize, cols: usize, pad: usize) -> (Vec<f32>, usize) {
    let rs = count * cols + pad;
    let mut mem = vec![f32::NAN; rows * rs];
    for b in 0..count {
        for r in 0..rows {
            for c in 0..cols {
                mem[r * rs + b * cols + c] = dense[(b * rows + r) * cols + c];
            }
        }
    }
    (mem, rs)
}

#[test]
fn strided_inputs_give_the_dense_results_bit_for_bit() {
    let dm = AttentionDims { bh: 6, n: 11, m: 13, d: 8, e: 5 };
    let AttentionDims { bh, n, m, d, e } = dm;
    let (q, k, v, dout) = (data(bh * n * d, 1), data(bh * m * d, 2), data(bh * m * e, 3), data(bh * n * e, 4));
    let strided = |x: &[f32], rows: usize, cols: usize, pad: usize| {
        let (mem, rs) = interleaved(x, bh, rows, cols, pad);
        (mem, (0..bh).map(|b| b * cols).collect::<Vec<_>>(), rs)
    };
    let (qm, qo, qrs) = strided(&q, n, d, 3);
    let (km, ko, krs) = strided(&k, m, d, 0);
    let (vm, vo, vrs) = strided(&v, m, e, 7);
    let (dm_, dout_o, drs) = strided(&dout, n, e, 1);
    let view = |data, offsets, rows, cols, rs| Blocks { data, offsets, rows, cols, rs, cs: 1 };
    let (qb, kb, vb) = (view(&qm, qo, n, d, qrs), view(&km, ko, m, d, krs), view(&vm, vo, m, e, vrs));
    let db = view(&dm_, dout_o, n, e, drs);
    let (mut out, mut probs) = (vec![f32::NAN; bh * n * e], vec![f32::NAN; bh * n * m]);
    attention_forward(&qb, &kb, &vb, dm, 0.4, &mut out, &mut probs);
    let (mut dq, mut dk, mut dv) = (vec![f32::NAN; q.len()], vec![f32::NAN; k.len()], vec![f32::NAN; v.len()]);
    attention_backward(&qb, &kb, &vb, &probs, &db, dm, 0.4, &mut dq, &mut dk, &mut dv);
    let dense = run(dm, 0.4);
    for (name, got, want) in
        [("out", &out, &dense[0]), ("dq", &dq, &dense[2]), ("dk", &dk, &dense[3]), ("dv", &dv, &dense[4])]
    {
        let same = got.iter().zip(want.iter()).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{name} differs between strided and dense inputs");
    }
}

#[test]
#[should_panic(expected = "attention_forward: k holds 1 blocks of 2×4")]
fn wrong_shapes_are_named() {
    let dm = AttentionDims { bh: 1, n: 2, m: 3, d: 4, e: 4 };
    let (mut out, mut p) = (vec![0.0; 8], vec![0.0; 6]);
    let (q, k, v) = ([0.0; 8], [0.0; 8], [0.0; 12]);
    let (qb, kb, vb) = (Blocks::dense(&q, 1, 2, 4), Blocks::dense(&k, 1, 2, 4), Blocks::dense(&v, 1, 3, 4));
    attention_forward(&qb, &kb, &vb, dm, 1.0, &mut out, &mut p);
}

#[test]
#[should_panic(expected = "reaches past its slice of length 8")]
fn a_block_past_the_end_of_its_buffer_panics() {
    let dm = AttentionDims { bh: 2, n: 2, m: 2, d: 2, e: 2 };
    let (mut out, mut p) = (vec![0.0; 8], vec![0.0; 8]);
    let x = [0.5f32; 8];
    let mut q = Blocks::dense(&x, 2, 2, 2);
    q.offsets[1] = 6; // rows 6..10 of an 8-value buffer
    let kv = Blocks::dense(&x, 2, 2, 2);
    attention_forward(&q, &kv, &kv, dm, 1.0, &mut out, &mut p);
}
