//! 2-D convolution and max pooling (forward only: the DALL-E tokenizer's encoder needs them, and
//! it runs without gradient).
//!
//! The convolution is lowered to one matrix product per image: `unfold` gathers every kh×kw
//! window of the padded input into a column of a [C·kh·kw, Ho·Wo] matrix (im2col), and the weight
//! [O, C·kh·kw] times that matrix is the output [O, Ho·Wo]. The GEMM does the arithmetic.

use rayon::prelude::*;

use super::float_dispatch;
use crate::cpu::gemm::{dgemm, sgemm, MatMut, MatRef, Parallelism};
use crate::dtype::Element;
use crate::{DType, Tensor};

/// Output size of a sliding window along one axis.
fn out_len(size: usize, k: usize, stride: usize, pad: usize) -> usize {
    assert!(size + 2 * pad >= k, "a {k}-wide window does not fit in {size} + 2·{pad} padding");
    (size + 2 * pad - k) / stride + 1
}

/// im2col of one image [C, H, W] into `cols` [C·kh·kw, Ho·Wo] (zeros where the window hangs over
/// the padding).
#[allow(clippy::too_many_arguments)]
fn unfold<T: Copy + Default>(
    x: &[T],
    c: usize,
    h: usize,
    w: usize,
    k: (usize, usize),
    stride: usize,
    pad: usize,
    cols: &mut [T],
) {
    let (kh, kw) = k;
    let (ho, wo) = (out_len(h, kh, stride, pad), out_len(w, kw, stride, pad));
    for ci in 0..c {
        for ky in 0..kh {
            for kx in 0..kw {
                let row = &mut cols[((ci * kh + ky) * kw + kx) * ho * wo..][..ho * wo];
                for oy in 0..ho {
                    let iy = (oy * stride + ky) as isize - pad as isize;
                    for ox in 0..wo {
                        let ix = (ox * stride + kx) as isize - pad as isize;
                        let inside = (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix);
                        row[oy * wo + ox] =
                            if inside { x[(ci * h + iy as usize) * w + ix as usize] } else { T::default() };
                    }
                }
            }
        }
    }
}

type Gemm<T> = fn(MatRef<T>, MatRef<T>, MatMut<T>, Parallelism);

fn conv2d_impl<T: Element>(x: &Tensor, w: &Tensor, stride: usize, pad: usize, gemm: Gemm<T>) -> Tensor {
    let (b, c, h, wd) = (x.dims()[0], x.dims()[1], x.dims()[2], x.dims()[3]);
    let (o, kh, kw) = (w.dims()[0], w.dims()[2], w.dims()[3]);
    let (ho, wo) = (out_len(h, kh, stride, pad), out_len(wd, kw, stride, pad));
    let (xv, wv) = (x.values::<T>(), w.values::<T>());
    let k = c * kh * kw;
    let mut out = crate::pool::zeroed::<T>(b * o * ho * wo);
    // Several images: one per task, each GEMM on one thread. One image: the GEMM splits instead.
    let par = if b == 1 { Parallelism::Rayon } else { Parallelism::None };
    out.par_chunks_mut((o * ho * wo).max(1)).enumerate().for_each(|(i, y)| {
        let mut cols = vec![T::default(); k * ho * wo];
        unfold(&xv[i * c * h * wd..][..c * h * wd], c, h, wd, (kh, kw), stride, pad, &mut cols);
        let a = MatRef { data: &wv, offset: 0, rows: o, cols: k, rs: k, cs: 1 };
        let bm = MatRef { data: &cols, offset: 0, rows: k, cols: ho * wo, rs: ho * wo, cs: 1 };
        gemm(a, bm, MatMut { data: y, offset: 0, rows: o, cols: ho * wo, rs: ho * wo, cs: 1 }, par);
    });
    Tensor::from_values(out, [b, o, ho, wo])
}

fn max_pool_impl<T: Element + crate::cpu::Float>(x: &Tensor, k: usize, stride: usize) -> Tensor {
    let (b, c, h, w) = (x.dims()[0], x.dims()[1], x.dims()[2], x.dims()[3]);
    let (ho, wo) = (out_len(h, k, stride, 0), out_len(w, k, stride, 0));
    let xv = x.values::<T>();
    let mut out = crate::pool::zeroed::<T>(b * c * ho * wo);
    out.par_chunks_mut((ho * wo).max(1)).enumerate().for_each(|(plane, y)| {
        let src = &xv[plane * h * w..][..h * w];
        for oy in 0..ho {
            for ox in 0..wo {
                let window = (0..k).flat_map(|dy| (0..k).map(move |dx| (oy * stride + dy) * w + ox * stride + dx));
                // NaN wins, as in PyTorch: a comparison with NaN is false, so test for it explicitly.
                y[oy * wo + ox] =
                    window.map(|i| src[i]).reduce(|m, v| if v > m || v.is_nan() { v } else { m }).expect("k > 0");
            }
        }
    });
    Tensor::from_values(out, [b, c, ho, wo])
}

impl Tensor {
    /// Convolution of images `[B, C, H, W]` with a weight `[O, C, kh, kw]` (and a bias `[O]`), with the
    /// same stride and zero padding on both axes → [B, O, Ho, Wo].
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, stride: usize, padding: usize) -> Tensor {
        assert!(
            self.rank() == 4 && weight.rank() == 4,
            "conv2d takes [B, C, H, W] and [O, C, kh, kw], got {:?} and {:?}",
            self.shape(),
            weight.shape()
        );
        let (c, wc) = (self.dims()[1], weight.dims()[1]);
        assert_eq!(c, wc, "conv2d: the input has {c} channels, the weight expects {wc}");
        assert!(stride > 0, "conv2d stride must be positive");
        assert_eq!(self.dtype(), weight.dtype(), "conv2d of {} input with {} weight", self.dtype(), weight.dtype());
        if crate::gpu::placement(&"conv2d", &[self, weight]).is_some() {
            crate::gpu::unsupported("conv2d", self);
        }
        let y = match self.dtype() {
            DType::F32 => conv2d_impl::<f32>(self, weight, stride, padding, |a, b, c, p| sgemm(1.0, a, b, 0.0, c, p)),
            DType::F64 => conv2d_impl::<f64>(self, weight, stride, padding, |a, b, c, p| dgemm(1.0, a, b, 0.0, c, p)),
            d => panic!("conv2d computes in f32 or f64, but the tensors hold {d} (cast with to_dtype first)"),
        };
        match bias {
            Some(b) => {
                let o = weight.dims()[0];
                assert_eq!(b.dims(), &[o], "conv2d bias has shape {:?}, expected [{o}]", b.shape());
                &y + &b.reshape([1, o, 1, 1])
            }
            None => y,
        }
    }

    /// Max over k×k windows with the given stride, per channel: [B, C, H, W] → [B, C, Ho, Wo].
    pub fn max_pool2d(&self, k: usize, stride: usize) -> Tensor {
        assert_eq!(self.rank(), 4, "max_pool2d takes [B, C, H, W], got {:?}", self.shape());
        assert!(k > 0 && stride > 0, "max_pool2d needs a positive window and stride");
        if crate::gpu::on_gpu(self) {
            crate::gpu::unsupported("max_pool2d", self);
        }
        float_dispatch!(self.dtype(), "max_pool2d", T => max_pool_impl::<T>(self, k, stride))
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Tensor};

    /// Direct convolution, one output at a time.
    fn naive(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Vec<f64> {
        let (xd, wd) = (x.dims(), w.dims());
        let (b, c, h, wi, o, kh, kw) = (xd[0], xd[1], xd[2], xd[3], wd[0], wd[2], wd[3]);
        let (ho, wo) = ((h + 2 * pad - kh) / stride + 1, (wi + 2 * pad - kw) / stride + 1);
        let (xv, wv) = (x.to_vec_f64(), w.to_vec_f64());
        let mut out = vec![0.0; b * o * ho * wo];
        for (i, y) in out.iter_mut().enumerate() {
            let (bi, oi, oy, ox) = (i / (o * ho * wo), i / (ho * wo) % o, i / wo % ho, i % wo);
            for ci in 0..c {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let (iy, ix) =
                            ((oy * stride + ky) as isize - pad as isize, (ox * stride + kx) as isize - pad as isize);
                        if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wi {
                            *y += xv[((bi * c + ci) * h + iy as usize) * wi + ix as usize]
                                * wv[((oi * c + ci) * kh + ky) * kw + kx];
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn conv2d_matches_direct_convolution() {
        for (b, c, h, w, o, k, stride, pad) in
            [(2, 3, 7, 9, 4, 3, 1, 1), (1, 1, 5, 5, 2, 1, 1, 0), (3, 2, 8, 6, 5, 7, 2, 3), (1, 4, 4, 4, 3, 4, 4, 0)]
        {
            let x = Tensor::randn([b, c, h, w], 0.0, 1.0, DType::F64, 1);
            let wt = Tensor::randn([o, c, k, k], 0.0, 1.0, DType::F64, 2);
            let want = naive(&x, &wt, stride, pad);
            let got = x.conv2d(&wt, None, stride, pad).to_vec_f64();
            assert_eq!(got.len(), want.len());
            assert!(
                got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-10),
                "shape {:?}",
                (b, c, h, w, o, k, stride, pad)
            );
            let got32 = x.to_dtype(DType::F32).conv2d(&wt.to_dtype(DType::F32), None, stride, pad).to_vec_f64();
            assert!(got32.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-4 * (1.0 + w.abs())));
        }
        // The bias adds per output channel.
        let x = Tensor::zeros([1, 1, 3, 3], DType::F32);
        let y =
            x.conv2d(&Tensor::ones([2, 1, 3, 3], DType::F32), Some(&Tensor::from_vec(vec![1.0f32, -2.0], [2])), 1, 1);
        assert_eq!(y.narrow(1, 1, 1).to_vec::<f32>(), vec![-2.0; 9]);
    }

    #[test]
    fn max_pool_takes_window_maxima() {
        let x = Tensor::arange(0.0, 32.0, 1.0, DType::F32).reshape([1, 2, 4, 4]);
        assert_eq!(x.max_pool2d(2, 2).to_vec::<f32>(), vec![5., 7., 13., 15., 21., 23., 29., 31.]);
        let n = Tensor::from_vec(vec![1.0f32, f32::NAN, 0.0, 2.0], [1, 1, 2, 2]);
        assert!(n.max_pool2d(2, 2).to_vec::<f32>()[0].is_nan());
    }

    #[test]
    #[should_panic(expected = "the input has 3 channels, the weight expects 2")]
    fn channel_mismatch_is_named() {
        Tensor::zeros([1, 3, 4, 4], DType::F32).conv2d(&Tensor::zeros([1, 2, 3, 3], DType::F32), None, 1, 1);
    }
}
