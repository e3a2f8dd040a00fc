//! View ops: new shapes and orders over the same storage, without copying.
//! (`reshape` copies only when the layout cannot be seen with the new shape.)

use crate::{Shape, Tensor};

impl Tensor {
    /// The same elements with another shape: a view when the layout allows, a copy otherwise.
    pub fn reshape(&self, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        match self.layout().reshape(&shape) {
            Some(layout) => self.with_layout(layout),
            None => self.contiguous().reshape(shape),
        }
    }

    /// Merge dimensions `start..=end` into one.
    pub fn flatten(&self, start: isize, end: isize) -> Tensor {
        let (s, e) = (self.shape().axis(start), self.shape().axis(end));
        assert!(s <= e, "flatten({start}, {end}): start comes after end for shape {:?}", self.shape());
        let d = self.dims();
        let mut dims = d[..s].to_vec();
        dims.push(d[s..=e].iter().product());
        dims.extend_from_slice(&d[e + 1..]);
        self.reshape(dims)
    }

    /// Reorder the dimensions: new dim k is old dim `perm[k]`.
    pub fn permute(&self, perm: &[usize]) -> Tensor {
        self.with_layout(self.layout().permute(perm))
    }

    /// Swap two dimensions.
    pub fn transpose(&self, a: isize, b: isize) -> Tensor {
        let (a, b) = (self.shape().axis(a), self.shape().axis(b));
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Swap the last two dimensions (the matrix transpose of each matrix in a batch).
    pub fn t(&self) -> Tensor {
        assert!(self.rank() >= 2, "t() needs at least 2 dimensions, got shape {:?}", self.shape());
        self.transpose(-2, -1)
    }

    /// Keep `len` entries of `axis` starting at `start`.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Tensor {
        let axis = self.shape().axis(axis);
        self.with_layout(self.layout().narrow(axis, start, len))
    }

    /// Repeat size-1 (and missing leading) dimensions to reach `shape`, with stride 0: no copy.
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Tensor {
        self.with_layout(self.layout().broadcast_to(&shape.into()))
    }

    /// Alias of `broadcast_to`, PyTorch's name.
    pub fn expand(&self, shape: impl Into<Shape>) -> Tensor {
        self.broadcast_to(shape)
    }

    /// Insert a size-1 dimension so that it becomes dimension `axis` of the result.
    pub fn unsqueeze(&self, axis: isize) -> Tensor {
        let rank = self.rank() as isize;
        let a = if axis < 0 { axis + rank + 1 } else { axis };
        assert!((0..=rank).contains(&a), "unsqueeze axis {axis} out of range for shape {:?}", self.shape());
        self.with_layout(self.layout().unsqueeze(a as usize))
    }

    /// Remove a size-1 dimension.
    pub fn squeeze(&self, axis: isize) -> Tensor {
        let axis = self.shape().axis(axis);
        self.with_layout(self.layout().squeeze(axis))
    }

    /// Split `axis` into pieces of the given sizes (views). The sizes must add up to the dimension.
    pub fn split(&self, sizes: &[usize], axis: isize) -> Vec<Tensor> {
        let a = self.shape().axis(axis);
        let total: usize = sizes.iter().sum();
        assert_eq!(total, self.dims()[a], "split sizes {sizes:?} do not add up to dimension {a} of {:?}", self.shape());
        let mut start = 0;
        sizes
            .iter()
            .map(|&len| {
                let piece = self.narrow(a as isize, start, len);
                start += len;
                piece
            })
            .collect()
    }

    /// Split `axis` into `n` equal pieces (views).
    pub fn chunk(&self, n: usize, axis: isize) -> Vec<Tensor> {
        let size = self.dim(axis);
        assert!(
            n > 0 && size.is_multiple_of(n),
            "chunk: dimension of size {size} does not split into {n} equal pieces"
        );
        self.split(&vec![size / n; n], axis)
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Tensor};

    fn iota(dims: &[usize]) -> Tensor {
        let n = dims.iter().product::<usize>();
        Tensor::arange(0.0, n as f64, 1.0, DType::F32).reshape(dims)
    }

    #[test]
    fn views_share_storage() {
        let x = iota(&[2, 3, 4]);
        for v in [x.permute(&[2, 0, 1]), x.narrow(1, 1, 2), x.unsqueeze(0), x.reshape([6, 4]), x.t()] {
            assert!(v.shares_storage_with(&x));
        }
        assert!(!x.t().reshape([24]).shares_storage_with(&x), "a transposed flatten must copy");
    }

    #[test]
    fn transpose_reads_back_transposed() {
        let x = iota(&[2, 3]);
        assert_eq!(x.t().to_vec::<f32>(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(x.t().contiguous().dims(), &[3, 2]);
    }

    #[test]
    fn split_and_narrow() {
        let x = iota(&[2, 5]);
        let parts = x.split(&[2, 3], -1);
        assert_eq!(parts[1].to_vec::<f32>(), vec![2.0, 3.0, 4.0, 7.0, 8.0, 9.0]);
        assert_eq!(x.chunk(2, 0)[1].to_vec::<f32>(), vec![5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(x.unsqueeze(-1).dims(), &[2, 5, 1]);
        assert_eq!(x.unsqueeze(-1).squeeze(2).dims(), &[2, 5]);
        assert_eq!(iota(&[2, 3, 4]).flatten(0, 1).dims(), &[6, 4]);
    }

    #[test]
    fn broadcast_repeats_values() {
        let x = iota(&[3, 1]).broadcast_to([2, 3, 2]);
        assert_eq!(x.to_vec::<f32>(), vec![0., 0., 1., 1., 2., 2., 0., 0., 1., 1., 2., 2.]);
    }

    #[test]
    fn empty_views_read_as_empty_wherever_they_were_cut() {
        // Narrowed to nothing at the end of one axis, then into the next: the offset would point
        // past the buffer (7 of 6) if it followed the cuts.
        let e = iota(&[2, 3]).narrow(0, 2, 0).narrow(1, 1, 2);
        assert_eq!(e.dims(), &[0, 2]);
        for v in [e.clone(), e.reshape([2, 0]), e.t(), e.contiguous(), e.exp(), e.flatten(0, -1)] {
            assert_eq!(v.to_vec::<f32>(), Vec::<f32>::new(), "{:?}", v.dims());
        }
        assert_eq!(e.as_slice::<f32>(), Some(&[][..]));
        assert_eq!(e.sum(&[1], false).dims(), &[0]);
        assert_eq!(e.sum(&[0], false).to_vec::<f32>(), vec![0.0, 0.0]);
        assert!(format!("{e}").contains("[0, 2]"));
    }

    #[test]
    #[should_panic(expected = "do not add up")]
    fn split_sizes_must_cover_the_axis() {
        iota(&[2, 5]).split(&[2, 2], 1);
    }
}
