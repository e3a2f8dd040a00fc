//! Joining tensors: concat along an existing axis, stack along a new one. (`split` and `chunk`, their
//! inverses, are views and live in `view.rs`.)

use super::element_dispatch;
use crate::dtype::Element;
use crate::gpu;
use crate::Tensor;

fn concat_impl<T: Element>(parts: &[Tensor], axis: usize, dims: Vec<usize>) -> Tensor {
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis + 1..].iter().product();
    let values: Vec<_> = parts.iter().map(|p| p.values::<T>()).collect();
    // A recycled buffer: autograd's `split` backward concatenates whole gradients (the q, k, v of every
    // attention block), and fresh memory of that size page-faults on every step.
    let mut out = crate::pool::for_overwrite(dims.iter().product());
    let mut at = 0;
    for o in 0..outer {
        for (p, v) in parts.iter().zip(&values) {
            let block = p.dims()[axis] * inner;
            out[at..at + block].copy_from_slice(&v[o * block..(o + 1) * block]);
            at += block;
        }
    }
    Tensor::from_values(out, dims)
}

impl Tensor {
    /// Join tensors along `axis`; all other dims and the dtype must agree.
    pub fn concat(parts: &[Tensor], axis: isize) -> Tensor {
        let first = parts.first().expect("concat needs at least one tensor");
        let a = first.shape().axis(axis);
        let mut dims = first.dims().to_vec();
        dims[a] = 0;
        for p in parts {
            let same = p.rank() == first.rank() && (0..p.rank()).all(|k| k == a || p.dims()[k] == first.dims()[k]);
            assert!(same, "concat along {a}: shape {:?} does not match {:?}", p.shape(), first.shape());
            assert_eq!(p.dtype(), first.dtype(), "concat of {} and {} tensors", first.dtype(), p.dtype());
            dims[a] += p.dims()[a];
        }
        if parts.iter().any(gpu::on_gpu) {
            let all: Vec<&Tensor> = parts.iter().collect();
            let n = gpu::placement(&"concat", &all).expect("a part is on a GPU");
            return gpu::join::concat(parts, a, dims, n);
        }
        element_dispatch!(first.dtype(), T => concat_impl::<T>(parts, a, dims))
    }

    /// Join equally shaped tensors along a new dim inserted at `axis`.
    pub fn stack(parts: &[Tensor], axis: isize) -> Tensor {
        let first = parts.first().expect("stack needs at least one tensor");
        for p in parts {
            assert_eq!(
                p.shape(),
                first.shape(),
                "stack needs equal shapes, got {:?} and {:?}",
                first.shape(),
                p.shape()
            );
        }
        let expanded: Vec<Tensor> = parts.iter().map(|p| p.unsqueeze(axis)).collect();
        let rank = first.rank() as isize + 1;
        Tensor::concat(&expanded, if axis < 0 { axis + rank } else { axis })
    }
}
