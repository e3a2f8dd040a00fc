//! `Tensor::linear` (the bias accumulated into the GEMM) against `matmul` then `add`.

use tensor::{DType, Tensor};

fn randn(dims: &[usize], seed: u64) -> Tensor {
    Tensor::randn(dims.to_vec(), 0.0, 1.0, DType::F32, seed)
}

fn assert_close(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    for (i, (g, w)) in got.to_vec_f64().iter().zip(want.to_vec_f64()).enumerate() {
        assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{what}: element {i} is {g}, want {w}");
    }
}

#[test]
fn linear_matches_matmul_then_add() {
    // (x dims, out): rows past the GEMM's blocks, a single row, a batch of 3-D and 4-D inputs.
    for (x_dims, out) in [(vec![7, 5], 3), (vec![1, 40], 33), (vec![4, 99, 24], 72), (vec![2, 3, 5, 8], 1)] {
        let x = randn(&x_dims, 1);
        let (w, b) = (randn(&[out, x_dims[x_dims.len() - 1]], 2), randn(&[out], 3));
        assert_close(&x.linear(&w, &b), &x.matmul(&w.t()).add(&b), &format!("{x_dims:?} → {out}"));
    }
}

#[test]
fn strided_operands_and_an_empty_depth() {
    // x as a transposed view, w as the transpose of a [in, out] tensor, b as a strided slice.
    let x = randn(&[6, 11], 4).t(); // [11, 6]
    let w = randn(&[6, 9], 5).t(); // [9, 6]
    let b = randn(&[18], 6).reshape([9, 2]).narrow(1, 0, 1).reshape([9]);
    assert_close(&x.linear(&w, &b), &x.matmul(&w.t()).add(&b), "strided");
    // No inputs: every row is the bias.
    let (x, w, b) = (Tensor::zeros([3, 0], DType::F32), Tensor::zeros([4, 0], DType::F32), randn(&[4], 7));
    assert_close(&x.linear(&w, &b), &b.unsqueeze(0).expand([3, 4]).contiguous(), "k = 0");
}

#[test]
#[should_panic(expected = "linear: x [2, 3], weight [4, 5], bias [4]")]
fn mismatched_shapes_are_named() {
    randn(&[2, 3], 1).linear(&randn(&[4, 5], 2), &randn(&[4], 3));
}
