//! Indexing ops. Gathering is undone by scattering with addition (an index may repeat), and
//! scattering by gathering.

use tensor::{DType, Tensor};

use crate::tape::record;
use crate::Var;

/// A 1-D index along `axis` expanded to the full shape `like` (for scatter-add, which takes one).
fn expand_index(index: &Tensor, axis: usize, like: &[usize]) -> Tensor {
    let mut shape = vec![1; like.len()];
    shape[axis] = index.numel();
    index.reshape(shape).broadcast_to(like.to_vec()).contiguous()
}

impl Var {
    /// Entries `index` (1-D, i64) of `axis`.
    pub fn index_select(&self, axis: isize, index: &Tensor) -> Var {
        let x = self.value();
        let (a, shape, index) = (x.shape().axis(axis), x.dims().to_vec(), index.clone());
        record(x.index_select(axis, &index), &[self], move |g| {
            let full = expand_index(&index, a, g.dims());
            vec![Some(Tensor::zeros_on(shape.clone(), g.dtype(), g.device()).scatter_add(a as isize, &full, g))]
        })
    }

    /// `out[.., j, ..] = self[.., index[.., j, ..], ..]` along `axis`.
    pub fn gather(&self, axis: isize, index: &Tensor) -> Var {
        let (shape, index) = (self.dims().to_vec(), index.clone());
        record(self.value().gather(axis, &index), &[self], move |g| {
            vec![Some(Tensor::zeros_on(shape.clone(), g.dtype(), g.device()).scatter_add(axis, &index, g))]
        })
    }

    /// `self` with `src` added at `index` along `axis`.
    pub fn scatter_add(&self, axis: isize, index: &Tensor, src: &Var) -> Var {
        let index = index.clone();
        record(self.value().scatter_add(axis, &index, src.value()), &[self, src], move |g| {
            vec![Some(g.clone()), Some(g.gather(axis, &index))]
        })
    }

    /// Rows `index[b, j]` of each batch entry: [B, N, ...] → [B, K, ...].
    pub fn take_rows(&self, index: &Tensor) -> Var {
        let (shape, index) = (self.dims().to_vec(), index.clone());
        record(self.value().take_rows(&index), &[self], move |g| {
            vec![Some(Tensor::zeros_on(shape.clone(), g.dtype(), g.device()).put_rows(&index, g, true))]
        })
    }

    /// `self` [B, N, ...] with `rows` [B, K, ...] written at rows `index[b, j]` (distinct per batch entry).
    pub fn put_rows(&self, index: &Tensor, rows: &Var) -> Var {
        let index = index.clone();
        let zero_rows = rows.value().zeros_like();
        record(self.value().put_rows(&index, rows.value(), false), &[self, rows], move |g| {
            vec![Some(g.put_rows(&index, &zero_rows, false)), Some(g.take_rows(&index))]
        })
    }

    /// The rows where the u8 mask [B, N] is set (the same count in every row): [B, K, ...].
    pub fn masked_select_rows(&self, mask: &Tensor) -> Var {
        assert_eq!(mask.dtype(), DType::U8, "masked_select_rows takes a u8 mask, got {}", mask.dtype());
        self.take_rows(&self.value().row_mask_indices(mask))
    }

    /// `self` with `rows` put back where the mask [B, N] is set.
    pub fn masked_put_rows(&self, mask: &Tensor, rows: &Var) -> Var {
        self.put_rows(&self.value().row_mask_indices(mask), rows)
    }
}
