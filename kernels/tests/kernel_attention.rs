//! Flash-style attention forward against the f64 reference: sequence lengths across tile edges.
mod common;

use kernels::attention;

#[test]
fn attention_matches_reference_across_tile_edges() {
    let Some(gpu) = common::gpu() else { return };
    // n = 1, one partial tile, exactly one tile, one plus one key, ViT's 197 tokens (7 tiles).
    for (i, &(bh, n, d)) in [(1, 1, 32), (2, 7, 64), (1, 32, 32), (1, 33, 64), (1, 197, 32)].iter().enumerate() {
        let len = bh * n * d;
        let scale = 1.0 / (d as f32).sqrt();
        // Scores up to about +-8 after scaling: the online rescaling is exercised.
        let (q, k, v) = (
            common::values(len, i as u64, 2.0),
            common::values(len, 10 + i as u64, 2.0),
            common::values(len, 20 + i as u64, 1.0),
        );
        let up = |x: &[f32]| gpu.upload(x).unwrap();
        let (dq, dk, dv) = (up(&q), up(&k), up(&v));
        let (out, lse) = (gpu.alloc::<f32>(len).unwrap(), gpu.alloc::<f32>(bh * n).unwrap());
        attention::forward(&gpu, &out, &lse, &dq, &dk, &dv, (bh, n, d), scale).unwrap();
        let (want, want_lse) = attention::reference(&q, &k, &v, (bh, n, d), scale);
        let what = format!("attention bh={bh} n={n} d={d}");
        // ex2.approx (2^-22 relative per exponential) and f32 sums over at most 197 keys.
        common::assert_close(&what, &out.read().unwrap(), &want, 1e-5, 1e-4);
        common::assert_close(&what, &lse.read().unwrap(), &want_lse, 1e-5, 1e-5);
    }
}

#[test]
fn attention_backward_matches_reference() {
    let Some(gpu) = common::gpu() else { return };
    for (i, &(bh, n, d)) in [(1, 1, 32), (2, 7, 64), (1, 33, 32), (1, 70, 32)].iter().enumerate() {
        let len = bh * n * d;
        let scale = 1.0 / (d as f32).sqrt();
        let vals = |seed: u64, amp: f32| common::values(len, 50 + 10 * i as u64 + seed, amp);
        let (q, k, v, dout) = (vals(0, 2.0), vals(1, 2.0), vals(2, 1.0), vals(3, 1.0));
        let up = |x: &[f32]| gpu.upload(x).unwrap();
        let (dq_, dk_, dv_, ddo) = (up(&q), up(&k), up(&v), up(&dout));
        let (out, lse) = (gpu.alloc::<f32>(len).unwrap(), gpu.alloc::<f32>(bh * n).unwrap());
        attention::forward(&gpu, &out, &lse, &dq_, &dk_, &dv_, (bh, n, d), scale).unwrap();
        let grads: Vec<_> = (0..3).map(|_| gpu.alloc::<f32>(len).unwrap()).collect();
        let saved = attention::Saved { q: &dq_, k: &dk_, v: &dv_, out: &out, lse: &lse };
        attention::backward(&gpu, &grads[0], &grads[1], &grads[2], &ddo, &saved, (bh, n, d), scale).unwrap();
        let want = attention::reference_backward(&q, &k, &v, &dout, (bh, n, d), scale);
        for (name, got, want) in [("dq", &grads[0], &want.0), ("dk", &grads[1], &want.1), ("dv", &grads[2], &want.2)] {
            // Recomputed probabilities carry ex2.approx's 2^-22 and f32 sums over at most 70 rows.
            common::assert_close(
                &format!("attention {name} bh={bh} n={n} d={d}"),
                &got.read().unwrap(),
                want,
                2e-5,
                1e-4,
            );
        }
    }
}
