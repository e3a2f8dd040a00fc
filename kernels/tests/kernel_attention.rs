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
