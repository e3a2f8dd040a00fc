//! Shape ops. Their gradients only move `g` back: reshape it, permute it back, pad it with zeros
//! (narrow), cut it up (concat), sum it (broadcast).

use tensor::Tensor;

use crate::tape::{record, record_multi};
use crate::Var;

impl Var {
    /// The same elements in another shape (a view when the layout allows); `g` is reshaped back.
    pub fn reshape(&self, shape: impl Into<tensor::Shape>) -> Var {
        let from = self.shape().clone();
        record(self.value().reshape(shape), &[self], move |g| vec![Some(g.reshape(from.clone()))])
    }

    /// Dims reordered (new dim k is old dim `perm[k]`), a view; `g` gets the inverse permutation.
    pub fn permute(&self, perm: &[usize]) -> Var {
        let value = self.value().permute(perm); // checks that `perm` is a permutation of the dims
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        record(value, &[self], move |g| vec![Some(g.permute(&inverse))])
    }

    /// Dims `a` and `b` swapped, a view; `g` is swapped back.
    pub fn transpose(&self, a: isize, b: isize) -> Var {
        record(self.value().transpose(a, b), &[self], move |g| vec![Some(g.transpose(a, b))])
    }

    /// Dims `start..=end` merged into one; `g` is reshaped back.
    pub fn flatten(&self, start: isize, end: isize) -> Var {
        let from = self.shape().clone();
        record(self.value().flatten(start, end), &[self], move |g| vec![Some(g.reshape(from.clone()))])
    }

    /// A size-1 dim inserted at `axis`.
    pub fn unsqueeze(&self, axis: isize) -> Var {
        let from = self.shape().clone();
        record(self.value().unsqueeze(axis), &[self], move |g| vec![Some(g.reshape(from.clone()))])
    }

    /// The size-1 dim `axis` removed.
    pub fn squeeze(&self, axis: isize) -> Var {
        let from = self.shape().clone();
        record(self.value().squeeze(axis), &[self], move |g| vec![Some(g.reshape(from.clone()))])
    }

    /// Repeated to `shape` by NumPy rules, without copying; `g` is summed back over the repeats.
    pub fn broadcast_to(&self, shape: impl Into<tensor::Shape>) -> Var {
        let from = self.shape().clone();
        record(self.value().broadcast_to(shape), &[self], move |g| vec![Some(g.sum_to(&from))])
    }

    /// Entries `start..start + len` of `axis`; the gradient is `g` padded with zeros.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Var {
        let x = self.value();
        let a = x.shape().axis(axis);
        let (size, shape, dtype) = (x.dims()[a], x.dims().to_vec(), x.dtype());
        record(x.narrow(axis, start, len), &[self], move |g| {
            let zeros = |n: usize| {
                let mut d = shape.clone();
                d[a] = n;
                Tensor::zeros_on(d, dtype, g.device())
            };
            let parts = [zeros(start), g.clone(), zeros(size - start - len)];
            vec![Some(Tensor::concat(&parts, a as isize))]
        })
    }

    /// Pieces of `axis` with the given sizes (views). One tape entry for all pieces: its rule joins
    /// their gradients (zeros for unused pieces) with a single concat.
    pub fn split(&self, sizes: &[usize], axis: isize) -> Vec<Var> {
        let a = self.value().shape().axis(axis) as isize;
        let pieces = self.value().split(sizes, a);
        let shapes: Vec<Vec<usize>> = pieces.iter().map(|p| p.dims().to_vec()).collect();
        let (dtype, device) = (self.dtype(), self.value().device());
        record_multi(pieces, &[self], move |grads| {
            let parts: Vec<Tensor> = grads
                .iter()
                .zip(&shapes)
                .map(|(g, shape)| g.clone().unwrap_or_else(|| Tensor::zeros_on(shape.clone(), dtype, device)))
                .collect();
            vec![Some(Tensor::concat(&parts, a))]
        })
    }

    /// `n` equal pieces of `axis`.
    pub fn chunk(&self, n: usize, axis: isize) -> Vec<Var> {
        let size = self.dim(axis);
        assert!(
            n > 0 && size.is_multiple_of(n),
            "chunk: dimension of size {size} does not split into {n} equal pieces"
        );
        self.split(&vec![size / n; n], axis)
    }

    /// Join along `axis`; the gradient is cut back into the pieces.
    pub fn concat(parts: &[Var], axis: isize) -> Var {
        let values: Vec<Tensor> = parts.iter().map(|p| p.value().clone()).collect();
        let a = values.first().expect("concat needs at least one value").shape().axis(axis) as isize;
        let sizes: Vec<usize> = values.iter().map(|v| v.dim(a)).collect();
        let inputs: Vec<&Var> = parts.iter().collect();
        record(Tensor::concat(&values, a), &inputs, move |g| g.split(&sizes, a).into_iter().map(Some).collect())
    }

    /// Join equally shaped values along a new axis.
    pub fn stack(parts: &[Var], axis: isize) -> Var {
        let rank = parts.first().expect("stack needs at least one value").rank() as isize + 1;
        let axis = if axis < 0 { axis + rank } else { axis };
        let expanded: Vec<Var> = parts.iter().map(|p| p.unsqueeze(axis)).collect();
        Var::concat(&expanded, axis)
    }

    /// [B, C, H, W] → [B, N, C·p·p] (see `Tensor::patchify`); built from differentiable views.
    pub fn patchify(&self, p: usize) -> Var {
        assert_eq!(self.rank(), 4, "patchify takes [B, C, H, W] images, got {:?}", self.shape());
        let (b, c, h, w) = (self.dims()[0], self.dims()[1], self.dims()[2], self.dims()[3]);
        assert!(p > 0 && h % p == 0 && w % p == 0, "patchify: {h}×{w} images do not split into {p}×{p} patches");
        let (gh, gw) = (h / p, w / p);
        self.reshape([b, c, gh, p, gw, p]).permute(&[0, 2, 4, 1, 3, 5]).reshape([b, gh * gw, c * p * p])
    }
}
