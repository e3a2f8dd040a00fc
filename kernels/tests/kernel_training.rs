//! The training-step kernels: fused cross-entropy, row gather/scatter, multi-tensor AdamW.
mod common;

use kernels::adamw::{self, Hyper, Tensor};
use kernels::{cross_entropy, gather};

#[test]
fn cross_entropy_matches_reference_and_ignores_marked_rows() {
    let Some(gpu) = common::gpu() else { return };
    for &(rows, classes) in &[(1, 1), (3, 7), (5, 33), (4, 197), (2, 1000)] {
        let logits: Vec<f32> = common::values(rows * classes, classes as u64, 10.0);
        let mut targets: Vec<u32> = (0..rows).map(|r| ((r * 31 + 5) % classes) as u32).collect();
        if rows > 2 {
            targets[1] = cross_entropy::IGNORE;
        }
        let dscale = 1.0 / rows as f32;
        let (dl, dt) = (gpu.upload(&logits).unwrap(), gpu.upload(&targets).unwrap());
        let (loss, dlogits) = (gpu.alloc::<f32>(rows).unwrap(), gpu.alloc::<f32>(rows * classes).unwrap());
        cross_entropy::forward_backward(&gpu, &loss, &dlogits, &dl, &dt, classes, dscale).unwrap();
        let (want_loss, want_d) = cross_entropy::reference(&logits, &targets, classes, dscale);
        let what = format!("cross entropy {rows}x{classes}");
        // lg2.approx and ex2.approx: about 1e-6 absolute on losses of order 10.
        common::assert_close(&what, &loss.read().unwrap(), &want_loss, 1e-5, 1e-6);
        common::assert_close(&what, &dlogits.read().unwrap(), &want_d, 1e-7, 1e-5);
        if rows > 2 {
            assert_eq!(loss.read().unwrap()[1], 0.0, "{what}: an ignored row has a loss");
        }
    }
}

#[test]
fn take_rows_then_put_rows_round_trips_masked_patches() {
    let Some(gpu) = common::gpu() else { return };
    for &(rows, cols) in &[(1, 1), (7, 3), (33, 5), (197, 7)] {
        let src = common::values(rows * cols, 9, 1.0);
        // Every third row, in a scrambled order.
        let idx: Vec<u32> = (0..rows as u32).filter(|r| r.is_multiple_of(3)).rev().collect();
        let (dsrc, didx) = (gpu.upload(&src).unwrap(), gpu.upload(&idx).unwrap());
        let taken = gpu.alloc::<f32>(idx.len() * cols).unwrap();
        gather::take_rows(&gpu, &taken, &dsrc, &didx, cols).unwrap();
        let want = gather::reference_take(&src, &idx, cols);
        assert_eq!(taken.read().unwrap(), want, "take_rows {rows}x{cols}");

        let before = common::values(rows * cols, 10, 1.0);
        let dst = gpu.upload(&before).unwrap();
        gather::put_rows(&gpu, &dst, &taken, &didx, cols).unwrap();
        let mut want = before.clone();
        gather::reference_put(&mut want, &gather::reference_take(&src, &idx, cols), &idx, cols);
        assert_eq!(dst.read().unwrap(), want, "put_rows {rows}x{cols}");
    }
}

#[test]
fn adamw_updates_several_tensors_in_one_launch() {
    let Some(gpu) = common::gpu() else { return };
    let h = Hyper { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3, grad_scale: 0.5 };
    let lens = [1usize, 7, 197, 1000];
    let host: Vec<[Vec<f32>; 4]> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let s = 10 * i as u64;
            let v = common::values(n, s + 3, 1.0).iter().map(|x| x * x * 1e-2).collect();
            [common::values(n, s, 1.0), common::values(n, s + 1, 0.1), common::values(n, s + 2, 0.01), v]
        })
        .collect();
    let dev: Vec<[kernels::Buffer<f32>; 4]> = host.iter().map(|t| t.clone().map(|v| gpu.upload(&v).unwrap())).collect();
    let decay = |i: usize| if i.is_multiple_of(2) { 0.05 } else { 0.0 };
    let tensors: Vec<Tensor> =
        dev.iter().enumerate().map(|(i, [p, g, m, v])| Tensor::in_place(p, g, m, v, decay(i))).collect();
    adamw::step(&gpu, &tensors, &h).unwrap();
    for (i, ([p, g, m, v], [dp, _, dm, dv])) in host.iter().zip(&dev).enumerate() {
        let (mut p, mut m, mut v) = (p.clone(), m.clone(), v.clone());
        adamw::reference(&mut p, g, &mut m, &mut v, decay(i), &h);
        let what = format!("adamw tensor {i}");
        common::assert_close(&what, &dm.read().unwrap(), &m, 1e-9, 1e-6);
        common::assert_close(&what, &dv.read().unwrap(), &v, 1e-12, 1e-6);
        // The step itself is lr-sized (1e-3); demand it right to 1e-4 of that, far above f32 noise at |p| ~ 1.
        common::assert_close(&what, &dp.read().unwrap(), &p, 2e-7, 1e-6);
    }
}

#[test]
fn adamw_into_fresh_buffers_leaves_its_inputs_and_gives_the_in_place_bits() {
    let Some(gpu) = common::gpu() else { return };
    let h = Hyper { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-6, step: 1, grad_scale: 2.0 };
    let n = 300;
    let v0: Vec<f32> = common::values(n, 4, 1.0).iter().map(|x| x * x).collect();
    let host = [common::values(n, 1, 1.0), common::values(n, 2, 1.0), common::values(n, 3, 0.1), v0];
    let inputs = host.clone().map(|v| gpu.upload(&v).unwrap());
    let outs = [0; 3].map(|_| gpu.alloc::<f32>(n).unwrap());
    let [p, g, m, v] = &inputs;
    let fresh =
        Tensor { param: p, grad: g, m, v, new_param: &outs[0], new_m: &outs[1], new_v: &outs[2], weight_decay: 0.1 };
    adamw::step(&gpu, &[fresh], &h).unwrap();
    for (b, want) in inputs.iter().zip(&host) {
        assert_eq!(&b.read().unwrap(), want, "an input changed");
    }
    adamw::step(&gpu, &[Tensor::in_place(p, g, m, v, 0.1)], &h).unwrap();
    for (fresh, in_place) in outs.iter().zip([p, m, v]) {
        assert_eq!(fresh.read().unwrap(), in_place.read().unwrap(), "fresh buffers and in place differ");
    }
}
