//! Tests of the tensor ops against naive index-by-index references, on contiguous tensors and on
//! views (transposed, narrowed, broadcast), including proptest-driven shapes.

use proptest::prelude::*;

use crate::{AdamWStep, BinaryOp, CmpOp, DType, Tensor};

fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for k in (0..dims.len()).rev() {
        idx[k] = i % dims[k];
        i /= dims[k];
    }
    idx
}

fn ravel(idx: &[usize], dims: &[usize]) -> usize {
    idx.iter().zip(dims).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// Value of `t` at the broadcast index `idx` (aligned on the right, size-1 dims repeat).
fn at_broadcast(values: &[f64], dims: &[usize], idx: &[usize]) -> f64 {
    let skip = idx.len() - dims.len();
    let own: Vec<usize> = dims.iter().enumerate().map(|(k, &d)| if d == 1 { 0 } else { idx[k + skip] }).collect();
    values[ravel(&own, dims)]
}

fn iota(dims: &[usize]) -> Tensor {
    let n: usize = dims.iter().product();
    Tensor::arange(0.0, n as f64, 1.0, DType::F32).reshape(dims)
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "element {i}: got {g}, want {w}");
    }
}

/// A view of a fresh random tensor: plain, transposed, or narrowed, all with logical shape `dims`.
fn some_view(dims: &[usize], kind: u8, seed: u64) -> Tensor {
    match kind % 3 {
        0 => Tensor::randn(dims.to_vec(), 0.0, 1.0, DType::F32, seed),
        1 if dims.len() >= 2 => {
            let mut d = dims.to_vec();
            let r = d.len();
            d.swap(r - 1, r - 2);
            Tensor::randn(d, 0.0, 1.0, DType::F32, seed).transpose(-1, -2)
        }
        _ => {
            let mut d = dims.to_vec();
            let last = d.len() - 1;
            d[last] += 3;
            Tensor::randn(d, 0.0, 1.0, DType::F32, seed).narrow(-1, 2, dims[last])
        }
    }
}

fn shape_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    proptest::collection::vec((1usize..5, 0u8..3), 1..5).prop_map(|dims| {
        let a: Vec<usize> = dims.iter().map(|&(d, _)| d).collect();
        // b drops some leading dims and sets some to 1, so it broadcasts against a.
        let drop = (dims[0].1 as usize).min(a.len() - 1);
        let b = dims[drop..].iter().map(|&(d, m)| if m == 1 { 1 } else { d }).collect();
        (a, b)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn broadcasting_binary_ops_match_naive((da, db) in shape_pair(), ka in 0u8..3, kb in 0u8..3, swap: bool) {
        let (da, db) = if swap { (db, da) } else { (da, db) };
        let (a, b) = (some_view(&da, ka, 1), some_view(&db, kb, 2));
        let (av, bv) = (a.to_vec_f64(), b.to_vec_f64());
        for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum] {
            let out = a.binary(op, &b);
            let want: Vec<f64> = (0..out.numel()).map(|i| {
                let idx = unravel(i, out.dims());
                let (x, y) = (at_broadcast(&av, &da, &idx), at_broadcast(&bv, &db, &idx));
                match op { BinaryOp::Add => x + y, BinaryOp::Sub => x - y, BinaryOp::Mul => x * y,
                           BinaryOp::Div => x / y, BinaryOp::Maximum => x.max(y), BinaryOp::Minimum => x.min(y) }
            }).collect();
            assert_close(&out.to_vec_f64(), &want, 1e-6);
        }
        let gt = a.compare(CmpOp::Gt, &b).to_vec_f64();
        let want: Vec<f64> = (0..gt.len()).map(|i| {
            let idx = unravel(i, a.shape().broadcast(b.shape()).dims());
            (at_broadcast(&av, &da, &idx) > at_broadcast(&bv, &db, &idx)) as u8 as f64
        }).collect();
        prop_assert_eq!(gt, want);
    }

    #[test]
    fn reductions_match_naive(dims in proptest::collection::vec(1usize..5, 1..5), kind in 0u8..3, mask in 1u8..16, keepdim: bool) {
        let x = some_view(&dims, kind, 3);
        let axes: Vec<isize> = (0..dims.len()).filter(|k| mask & (1 << k) != 0).map(|k| k as isize).collect();
        let axes = if axes.is_empty() { vec![0] } else { axes };
        let xv = x.to_vec_f64();
        let out_dims: Vec<usize> = (0..dims.len()).map(|k| if axes.contains(&(k as isize)) { 1 } else { dims[k] }).collect();
        let n_out: usize = out_dims.iter().product();
        let mut sum = vec![0.0; n_out];
        let mut max = vec![f64::NEG_INFINITY; n_out];
        for (i, &v) in xv.iter().enumerate() {
            let mut idx = unravel(i, &dims);
            for &a in &axes { idx[a as usize] = 0; }
            let o = ravel(&idx, &out_dims);
            sum[o] += v;
            max[o] = max[o].max(v);
        }
        let s = x.sum(&axes, keepdim);
        if keepdim { prop_assert_eq!(s.dims(), &out_dims[..]); }
        assert_close(&s.to_vec_f64(), &sum, 1e-5);
        assert_close(&x.max(&axes, keepdim).to_vec_f64(), &max, 0.0);
        let len = (xv.len() / n_out) as f64;
        assert_close(&x.mean(&axes, keepdim).to_vec_f64(), &sum.iter().map(|s| s / len).collect::<Vec<_>>(), 1e-5);
    }

    #[test]
    fn batched_matmul_matches_naive(b in 1usize..4, m in 1usize..20, k in 1usize..20, n in 1usize..20, ka in 0u8..3, kb in 0u8..3, bcast: bool) {
        let a = some_view(&[b, m, k], ka, 4);
        let w = if bcast { some_view(&[k, n], kb, 5) } else { some_view(&[b, k, n], kb, 5) };
        let (av, wv) = (a.to_vec_f64(), w.to_vec_f64());
        let mut want = vec![0.0; b * m * n];
        for bi in 0..b { for i in 0..m { for j in 0..n {
            let woff = if bcast { 0 } else { bi * k * n };
            want[(bi * m + i) * n + j] = (0..k).map(|p| av[(bi * m + i) * k + p] * wv[woff + p * n + j]).sum();
        }}}
        let out = a.matmul(&w);
        prop_assert_eq!(out.dims(), &[b, m, n][..]);
        assert_close(&out.to_vec_f64(), &want, 1e-5);
        let out64 = a.to_dtype(DType::F64).matmul(&w.to_dtype(DType::F64));
        assert_close(&out64.to_vec_f64(), &want, 1e-12);
    }

    #[test]
    fn reshape_and_permute_preserve_values(dims in proptest::collection::vec(1usize..5, 1..5), seed in 0u64..100) {
        let x = Tensor::randn(dims.clone(), 0.0, 1.0, DType::F32, seed);
        let r = dims.len();
        let perm: Vec<usize> = (0..r).rev().collect();
        let p = x.permute(&perm);
        let back = p.permute(&perm);
        prop_assert_eq!(back.to_vec::<f32>(), x.to_vec::<f32>());
        // A reshape of a permuted view reads values in the view's logical order.
        let flat = p.reshape([x.numel()]);
        prop_assert_eq!(flat.to_vec::<f32>(), p.contiguous().to_vec::<f32>());
    }
}

#[test]
fn matmul_takes_transposed_weights_without_copying() {
    let x = iota(&[2, 3]);
    let w = iota(&[4, 3]); // [out, in]
    let y = x.matmul(&w.t());
    assert_eq!(y.to_vec::<f32>(), vec![5., 14., 23., 32., 14., 50., 86., 122.]);
    // Batched over broadcast batch dims: [2, 1, 2, 3] · [3, 3, 4] → [2, 3, 2, 4]
    let a = Tensor::randn([2, 1, 2, 3], 0.0, 1.0, DType::F32, 0);
    let b = Tensor::randn([3, 3, 4], 0.0, 1.0, DType::F32, 1);
    let c = a.matmul(&b);
    assert_eq!(c.dims(), &[2, 3, 2, 4]);
    let direct = a.narrow(0, 1, 1).squeeze(0).squeeze(0).matmul(&b.narrow(0, 2, 1).squeeze(0));
    let from_batch = c.narrow(0, 1, 1).narrow(1, 2, 1).reshape([2, 4]);
    assert_eq!(direct.to_vec::<f32>(), from_batch.to_vec::<f32>());
}

#[test]
fn batch_against_shared_weights_equals_each_product_bitwise() {
    // [B, T, C] · Wᵀ runs as one tall GEMM; each batch row must still get exactly its own 2-D product
    // (big enough to take the parallel path). A permuted left operand cannot merge and takes the
    // per-matrix path: same values again.
    let x = Tensor::randn([4, 99, 64], 0.0, 1.0, DType::F32, 7);
    let w = Tensor::randn([96, 64], 0.0, 1.0, DType::F32, 8);
    let y = x.matmul(&w.t());
    let xp = x.permute(&[1, 0, 2]).contiguous().permute(&[1, 0, 2]);
    let yp = xp.matmul(&w.t());
    for b in 0..4 {
        let alone = x.narrow(0, b, 1).squeeze(0).matmul(&w.t());
        assert_eq!(y.narrow(0, b, 1).reshape([99, 96]).to_vec::<f32>(), alone.to_vec::<f32>(), "batch {b}");
    }
    assert_eq!(yp.to_vec::<f32>(), y.to_vec::<f32>());
}

#[test]
#[should_panic(expected = "inner dimensions differ")]
fn matmul_rejects_mismatched_inner_dims() {
    iota(&[2, 3]).matmul(&iota(&[4, 2]));
}

#[test]
fn variance_argmax_and_norm() {
    let x = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 3.0, -2.0, 8.0], [2, 3]);
    assert_eq!(x.argmax(-1, false).to_vec::<i64>(), vec![1, 2]);
    assert_eq!(x.argmin(0, true).to_vec::<i64>(), vec![0, 1, 0]);
    assert_eq!(x.argmin(0, true).dims(), &[1, 3]);
    assert_close(&x.var(&[-1], 0, false).to_vec_f64(), &[8.0 / 3.0, 50.0 / 3.0], 1e-6);
    assert_close(&x.var(&[-1], 1, false).to_vec_f64(), &[4.0, 25.0], 1e-6);
    assert_close(&x.norm(&[], false).to_vec_f64(), &[(1.0f64 + 25. + 9. + 9. + 4. + 64.).sqrt()], 1e-6);
    assert_eq!(x.sum_all().item(), 18.0);
}

#[test]
fn softmax_and_log_softmax_along_any_axis() {
    let x = Tensor::randn([3, 4, 5], 0.0, 3.0, DType::F64, 9);
    for axis in [0isize, 1, -1] {
        let p = x.softmax(axis);
        let total = p.sum(&[axis], false).to_vec_f64();
        assert_close(&total, &vec![1.0; total.len()], 1e-12);
        assert_close(&x.log_softmax(axis).to_vec_f64(), &p.log().to_vec_f64(), 1e-12);
        // Invariant to adding a constant along the axis.
        assert_close(&x.add_scalar(100.0).softmax(axis).to_vec_f64(), &p.to_vec_f64(), 1e-12);
    }
    let big = Tensor::from_vec(vec![1000.0f32, 0.0, -1000.0], [1, 3]);
    assert_eq!(big.softmax(-1).to_vec::<f32>(), vec![1.0, 0.0, 0.0]);
}

#[test]
fn layer_norm_normalises_rows_then_applies_the_affine() {
    let x = Tensor::randn([4, 7], 2.0, 3.0, DType::F64, 1).narrow(0, 1, 3);
    let w = Tensor::randn([7], 1.0, 0.5, DType::F64, 2);
    let b = Tensor::randn([7], 0.0, 0.5, DType::F64, 3);
    let plain = x.layer_norm(None, None, 1e-6);
    assert_close(&plain.mean(&[-1], false).to_vec_f64(), &[0.0; 3], 1e-12);
    assert_close(&plain.var(&[-1], 0, false).to_vec_f64(), &[1.0; 3], 1e-6);
    let affine = x.layer_norm(Some(&w), Some(&b), 1e-6);
    assert_close(&affine.to_vec_f64(), &(&(&plain * &w) + &b).to_vec_f64(), 1e-12);
    let stats = x.layer_norm_with_stats(None, None, 1e-6);
    assert_close(&stats.mean.to_vec_f64(), &x.mean(&[-1], false).to_vec_f64(), 1e-12);
}

#[test]
fn index_select_gather_and_scatter_add() {
    let x = iota(&[3, 4]);
    let idx = Tensor::from_vec(vec![2i64, 0, 2], [3]);
    assert_eq!(x.index_select(0, &idx).to_vec::<f32>(), vec![8., 9., 10., 11., 0., 1., 2., 3., 8., 9., 10., 11.]);
    assert_eq!(x.index_select(1, &idx).to_vec::<f32>(), vec![2., 0., 2., 6., 4., 6., 10., 8., 10.]);
    let g = Tensor::from_vec(vec![3i64, 0, 1, 1, 2, 2], [3, 2]);
    assert_eq!(x.gather(1, &g).to_vec::<f32>(), vec![3., 0., 5., 5., 10., 10.]);
    let src = Tensor::ones([3, 2], DType::F32);
    let s = Tensor::zeros([3, 4], DType::F32).scatter_add(1, &g, &src);
    assert_eq!(s.to_vec::<f32>(), vec![1., 0., 0., 1., 0., 2., 0., 0., 0., 0., 2., 0.]);
}

#[test]
#[should_panic(expected = "index 4 is out of range for a dimension of size 4")]
fn gather_names_the_bad_index() {
    iota(&[1, 4]).gather(1, &Tensor::from_vec(vec![4i64], [1, 1]));
}

#[test]
#[should_panic(expected = "index_select: index 7 is out of range for a dimension of size 3")]
fn index_select_checks_its_indices_even_with_nothing_to_copy() {
    Tensor::zeros([0, 3], DType::F32).index_select(1, &Tensor::from_vec(vec![7i64], [1]));
}

#[test]
#[should_panic(expected = "row mask [2, 4] must be [B, N] of input [2, 5, 3]")]
fn a_mask_shorter_than_the_rows_is_an_error() {
    iota(&[2, 5, 3]).masked_select_rows(&Tensor::from_vec(vec![1u8, 0, 1, 0, 1, 1, 0, 0], [2, 4]));
}

#[test]
#[should_panic(expected = "row mask [2, 5] must be [B, N] of input [3, 5, 1]")]
fn a_mask_of_another_batch_is_an_error() {
    let mask = Tensor::from_vec(vec![1u8, 0, 1, 0, 0, 1, 1, 0, 0, 0], [2, 5]);
    Tensor::zeros([3, 5, 1], DType::F32).masked_put_rows(&mask, &Tensor::zeros([3, 2, 1], DType::F32));
}

#[test]
#[should_panic(expected = "scatter_add of f64 values into a f32 tensor")]
fn scatter_add_names_a_dtype_mismatch() {
    let index = Tensor::from_vec(vec![0i64, 1], [1, 2]);
    Tensor::zeros([1, 2], DType::F32).scatter_add(1, &index, &Tensor::zeros([1, 2], DType::F64));
}

#[test]
#[should_panic(expected = "matmul: batch dimensions do not broadcast in [2, 3, 4] · [3, 4, 2]")]
fn matmul_names_batches_that_do_not_broadcast() {
    iota(&[2, 3, 4]).matmul(&iota(&[3, 4, 2]));
}

#[test]
#[should_panic(expected = "layer_norm over an empty last dimension (shape [2, 0])")]
fn layer_norm_over_nothing_is_an_error() {
    Tensor::zeros([2, 0], DType::F32).layer_norm(None, None, 1e-5);
}

#[test]
fn masked_rows_come_out_and_go_back() {
    let x = iota(&[2, 4, 3]); // [B, N, D]
    let mask = Tensor::from_vec(vec![1u8, 0, 1, 0, 0, 1, 1, 0], [2, 4]);
    let picked = x.masked_select_rows(&mask);
    assert_eq!(picked.dims(), &[2, 2, 3]);
    assert_eq!(picked.to_vec::<f32>(), vec![0., 1., 2., 6., 7., 8., 15., 16., 17., 18., 19., 20.]);
    let restored = Tensor::zeros([2, 4, 3], DType::F32).masked_put_rows(&mask, &picked);
    let keep = mask.to_dtype(DType::F32).unsqueeze(-1);
    assert_eq!(restored.to_vec::<f32>(), (&x * &keep).to_vec::<f32>());
    let twice = restored.put_rows(&mask.mask_indices(), &picked, true);
    assert_eq!(twice.to_vec::<f32>(), (&(&x * &keep) * 2.0).to_vec::<f32>());
}

#[test]
#[should_panic(expected = "every row must select the same count")]
fn uneven_masks_are_rejected() {
    Tensor::from_vec(vec![1u8, 0, 1, 1], [2, 2]).mask_indices();
}

#[test]
fn concat_stack_split_round_trip() {
    let a = iota(&[2, 3]);
    let b = iota(&[2, 2]).add_scalar(100.0);
    let c = Tensor::concat(&[a.clone(), b.clone()], 1);
    assert_eq!(c.dims(), &[2, 5]);
    let parts = c.split(&[3, 2], 1);
    assert_eq!(parts[0].to_vec::<f32>(), a.to_vec::<f32>());
    assert_eq!(parts[1].to_vec::<f32>(), b.to_vec::<f32>());
    let s = Tensor::stack(&[a.clone(), a.mul_scalar(2.0)], -1);
    assert_eq!(s.dims(), &[2, 3, 2]);
    assert_eq!(s.narrow(2, 1, 1).reshape([2, 3]).to_vec::<f32>(), a.mul_scalar(2.0).to_vec::<f32>());
}

#[test]
fn patchify_orders_channel_then_pixel_and_inverts() {
    let img = iota(&[2, 3, 8, 12]); // [B, C, H, W]
    let p = img.patchify(4);
    assert_eq!(p.dims(), &[2, 6, 48]);
    // Patch 4 is grid row 1, column 1; its first entries are channel 0, row 4, columns 4..8.
    let patch = p.narrow(0, 0, 1).narrow(1, 4, 1).reshape([48]).to_vec::<f32>();
    assert_eq!(&patch[..4], &[52., 53., 54., 55.]);
    assert_eq!(patch[16], 96.0 + 52.0, "entry 16 starts channel 1");
    assert_eq!(p.unpatchify(4, 3, 2, 3).to_vec::<f32>(), img.to_vec::<f32>());
}

#[test]
fn elementwise_math_on_views() {
    let x = Tensor::from_vec(vec![-2.0f32, -0.5, 0.0, 0.5, 2.0, 4.0], [2, 3]).t();
    let v: Vec<f64> = x.to_vec_f64();
    let check = |t: Tensor, f: fn(f64) -> f64| {
        assert_close(&t.to_vec_f64(), &v.iter().map(|&a| f(a)).collect::<Vec<_>>(), 1e-6)
    };
    check(x.exp(), f64::exp);
    check(x.tanh(), f64::tanh);
    check(x.relu(), |a| a.max(0.0));
    check(x.sigmoid(), |a| 1.0 / (1.0 + (-a).exp()));
    check(x.abs(), f64::abs);
    check(x.square(), |a| a * a);
    check(x.clamp(-1.0, 1.0), |a| a.clamp(-1.0, 1.0));
    check(x.neg(), |a| -a);
    check(x.gelu(), |a| 0.5 * a * (1.0 + libm_free_erf(a / std::f64::consts::SQRT_2)));
    check(x.abs().add_scalar(1.0).sqrt(), |a| (a.abs() + 1.0).sqrt());
    check(x.abs().add_scalar(1.0).log(), |a| (a.abs() + 1.0).ln());
    check(x.abs().add_scalar(1.0).powf(1.5), |a| (a.abs() + 1.0).powf(1.5));
    // x in logical order: -2, 0.5, -0.5, 2, 0, 4
    assert_eq!(x.compare_scalar(CmpOp::Ge, 0.5).to_vec::<u8>(), vec![0, 1, 0, 1, 0, 1]);
}

/// erf by its Maclaurin series (fine for |x| ≤ 3), to check GELU without a libm dependency.
fn libm_free_erf(x: f64) -> f64 {
    let mut term = x;
    let mut sum = x;
    for n in 1..80 {
        term *= -x * x / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

#[test]
#[should_panic(expected = "computes in f32 or f64, but the tensor holds bf16")]
fn math_on_storage_types_asks_for_a_cast() {
    Tensor::zeros([2], DType::BF16).exp();
}

#[test]
fn sum_to_undoes_broadcasting() {
    let g = iota(&[2, 3, 4]);
    assert_eq!(g.sum_to(&crate::Shape::from([4])).to_vec::<f32>(), g.sum(&[0, 1], false).to_vec::<f32>());
    let s = g.sum_to(&crate::Shape::from([3, 1]));
    assert_eq!(s.dims(), &[3, 1]);
    assert_eq!(s.to_vec::<f32>(), g.sum(&[0, 2], false).to_vec::<f32>());
    assert_eq!(g.sum_to(&crate::Shape::from([2, 3, 4])).to_vec::<f32>(), g.to_vec::<f32>());
}

#[test]
fn normalisation_backwards_match_their_composites() {
    let x = Tensor::randn([3, 5, 4], 0.0, 2.0, DType::F64, 1);
    let dy = Tensor::randn([3, 5, 4], 0.0, 1.0, DType::F64, 2);
    for axis in [1isize, -1] {
        let y = x.softmax(axis);
        let want = &y * &(&dy - &(&dy * &y).sum(&[axis], true));
        assert_close(&Tensor::softmax_backward(&y, &dy, axis).to_vec_f64(), &want.to_vec_f64(), 1e-12);
        let l = x.log_softmax(axis);
        let want = &dy - &(&l.exp() * &dy.sum(&[axis], true));
        assert_close(&Tensor::log_softmax_backward(&l, &dy, axis).to_vec_f64(), &want.to_vec_f64(), 1e-12);
    }
    // Layer norm: dx from the closed form, dweight and dbias as sums over rows.
    let w = Tensor::randn([4], 1.0, 0.3, DType::F64, 3);
    let out = x.layer_norm_with_stats(Some(&w), None, 1e-5);
    let g = Tensor::layer_norm_backward(&x, &dy, Some(&w), &out.mean, &out.rstd, true, true);
    let xhat = &(&x - &out.mean.unsqueeze(-1)) * &out.rstd.unsqueeze(-1);
    let gx = &dy * &w;
    let n = 4.0;
    let want_dx = &(&(&gx.mul_scalar(n) - &gx.sum(&[-1], true)) - &(&xhat * &(&gx * &xhat).sum(&[-1], true)))
        * &out.rstd.unsqueeze(-1).div_scalar(n);
    assert_close(&g.dx.to_vec_f64(), &want_dx.to_vec_f64(), 1e-10);
    assert_close(&g.dweight.unwrap().to_vec_f64(), &(&dy * &xhat).sum(&[0, 1], false).to_vec_f64(), 1e-10);
    assert_close(&g.dbias.unwrap().to_vec_f64(), &dy.sum(&[0, 1], false).to_vec_f64(), 1e-10);
}

#[test]
fn fused_adamw_is_the_composite_update_bit_for_bit() {
    // The update written with elementwise ops, as the optimiser had it; the fused pass must agree
    // exactly (both dtypes, decayed or not, scaled gradient, a size that takes the parallel path).
    for (dtype, n) in [(DType::F32, 70_001), (DType::F64, 33)] {
        let w = Tensor::randn([n], 0.0, 1.0, dtype, 1);
        let g = Tensor::randn([n], 0.0, 1.0, dtype, 2);
        let m = Tensor::randn([n], 0.0, 0.1, dtype, 3);
        let v = Tensor::randn([n], 0.0, 0.1, dtype, 4).abs();
        for (weight_decay, grad_scale, t) in [(0.05, 0.25, 7u64), (0.0, 1.0, 1)] {
            let s = AdamWStep { lr: 1.5e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay, t, grad_scale };
            let (bias1, bias2) = (1.0 - s.beta1.powi(t as i32), 1.0 - s.beta2.powi(t as i32));
            let gs = g.mul_scalar(grad_scale);
            let m2 = &m.mul_scalar(s.beta1) + &gs.mul_scalar(1.0 - s.beta1);
            let v2 = &v.mul_scalar(s.beta2) + &gs.square().mul_scalar(1.0 - s.beta2);
            let decayed = w.mul_scalar(1.0 - s.lr * weight_decay);
            let denom = v2.div_scalar(bias2).sqrt().add_scalar(s.eps);
            let w2 = decayed.sub(&m2.div(&denom).mul_scalar(s.lr / bias1));
            let (wf, mf, vf) = w.adamw_update(&g, &m, &v, &s);
            assert_eq!(wf.to_vec_f64(), w2.to_vec_f64(), "{dtype} weights, decay {weight_decay}");
            assert_eq!(mf.to_vec_f64(), m2.to_vec_f64(), "{dtype} first moment");
            assert_eq!(vf.to_vec_f64(), v2.to_vec_f64(), "{dtype} second moment");
        }
    }
}

#[test]
#[should_panic(expected = "the second moment is f32 [3]")]
fn fused_adamw_rejects_a_moment_of_another_shape() {
    let w = Tensor::zeros([4], DType::F32);
    let s = AdamWStep { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, t: 1, grad_scale: 1.0 };
    w.adamw_update(&w, &w, &Tensor::zeros([3], DType::F32), &s);
}

#[test]
fn gelu_backward_is_dy_times_gelu_grad_bit_for_bit() {
    // One size below and one above the parallel threshold, a broadcast-expanded dy (not contiguous).
    for n in [1000, 100_003] {
        let x = Tensor::randn([n], 0.0, 3.0, DType::F32, 11);
        let dy = Tensor::randn([n], 0.0, 1.0, DType::F32, 12);
        let want = dy.mul(&x.unary(crate::UnaryOp::GeluGrad));
        assert_eq!(x.gelu_backward(&dy).to_vec::<f32>(), want.to_vec::<f32>(), "n = {n}");
    }
    let x = Tensor::randn([3, 5], 0.0, 2.0, DType::F64, 13);
    let dy = Tensor::randn([5], 0.0, 1.0, DType::F64, 14).unsqueeze(0).expand([3, 5]);
    let want = dy.mul(&x.unary(crate::UnaryOp::GeluGrad));
    assert_eq!(x.gelu_backward(&dy).to_vec::<f64>(), want.to_vec::<f64>());
}

#[test]
#[should_panic(expected = "the step number t counts from 1")]
fn fused_adamw_rejects_step_zero() {
    let s = AdamWStep { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, t: 0, grad_scale: 1.0 };
    let w = Tensor::ones([3], DType::F32);
    w.adamw_update(&w, &Tensor::zeros([3], DType::F32), &Tensor::zeros([3], DType::F32), &s);
}
