//! `Layout`: how a tensor's logical elements map into its storage (shape, strides in elements, offset).
//!
//! Every view op (permute, narrow, broadcast, reshape when possible, squeeze, …) only builds a new
//! `Layout` over the same storage; nothing is copied. Element `[i0, i1, …]` lives at
//! `offset + Σ ik·strides[k]`. A stride of 0 repeats an element (broadcasting).

use crate::Shape;

/// Shape, strides (in elements) and starting offset of a view into a storage buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Shape,
    strides: Vec<usize>,
    offset: usize,
}

impl Layout {
    /// The row-major layout of a freshly allocated tensor.
    pub fn contiguous(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        let strides = shape.contiguous_strides();
        Layout { shape, strides, offset: 0 }
    }

    /// A layout from its parts; used by code that computes strides itself.
    pub fn new(shape: Shape, strides: Vec<usize>, offset: usize) -> Self {
        assert_eq!(shape.rank(), strides.len(), "layout needs one stride per dimension");
        Layout { shape, strides, offset }
    }

    /// The logical sizes of the view (not of the storage behind it).
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The sizes as a slice, outermost first; empty for a rank-0 (scalar) view.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// Storage steps, in elements (not bytes), one per dim; 0 on a broadcast dim. Never negative:
    /// there is no flipped view.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Storage index, in elements, of the first logical element (nonzero after a `narrow`).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// True when the elements sit in row-major order with no gaps (size-1 dims may have any stride;
    /// an empty view is contiguous whatever its strides).
    pub fn is_contiguous(&self) -> bool {
        if self.shape.numel() == 0 {
            return true;
        }
        let mut expected = 1;
        for (&d, &s) in self.dims().iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }

    /// One past the largest storage index this view can touch; for an empty view, its offset (which
    /// must still lie within the buffer: readers slice `offset..offset`).
    pub fn storage_extent(&self) -> usize {
        if self.shape.numel() == 0 {
            return self.offset;
        }
        self.offset + self.dims().iter().zip(&self.strides).map(|(&d, &s)| (d - 1) * s).sum::<usize>() + 1
    }

    /// Reorder the dimensions: new dim `k` is old dim `perm[k]`.
    pub fn permute(&self, perm: &[usize]) -> Layout {
        let rank = self.shape.rank();
        let mut seen = vec![false; rank];
        assert_eq!(perm.len(), rank, "permutation {perm:?} does not match rank {rank}");
        for &p in perm {
            assert!(p < rank && !seen[p], "{perm:?} is not a permutation of 0..{rank}");
            seen[p] = true;
        }
        Layout {
            shape: Shape::new(perm.iter().map(|&p| self.dims()[p]).collect::<Vec<_>>()),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        }
    }

    /// Keep `len` entries of `axis` starting at `start`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Layout {
        let size = self.dims()[axis];
        assert!(
            start + len <= size,
            "narrow({axis}, {start}, {len}) is out of range for dimension of size {size} (shape {:?})",
            self.shape
        );
        let mut dims = self.dims().to_vec();
        dims[axis] = len;
        let shape = Shape::new(dims);
        // An empty view reads nothing, but its offset is still used to slice the buffer: narrowing
        // to nothing at the end of one axis and then into another would step past the end.
        let offset = if shape.numel() == 0 { 0 } else { self.offset + start * self.strides[axis] };
        Layout { shape, strides: self.strides.clone(), offset }
    }

    /// View with the given shape by repeating size-1 (or missing leading) dimensions with stride 0.
    pub fn broadcast_to(&self, target: &Shape) -> Layout {
        let (rank, extra) = (target.rank(), target.rank().checked_sub(self.shape.rank()));
        let extra = extra.unwrap_or_else(|| panic!("cannot broadcast shape {:?} to lower rank {target:?}", self.shape));
        let mut strides = vec![0; rank];
        for k in 0..self.shape.rank() {
            let (from, to) = (self.dims()[k], target.dims()[k + extra]);
            strides[k + extra] = if from == to {
                self.strides[k]
            } else if from == 1 {
                0
            } else {
                panic!("cannot broadcast shape {:?} to {target:?}", self.shape)
            };
        }
        Layout { shape: target.clone(), strides, offset: self.offset }
    }

    /// Insert a size-1 dimension at `axis` (0..=rank).
    pub fn unsqueeze(&self, axis: usize) -> Layout {
        assert!(axis <= self.shape.rank(), "unsqueeze axis {axis} out of range for shape {:?}", self.shape);
        let mut dims = self.dims().to_vec();
        let mut strides = self.strides.clone();
        let stride = if axis < dims.len() { dims[axis] * strides[axis] } else { 1 };
        dims.insert(axis, 1);
        strides.insert(axis, stride);
        Layout { shape: Shape::new(dims), strides, offset: self.offset }
    }

    /// Remove a size-1 dimension.
    pub fn squeeze(&self, axis: usize) -> Layout {
        assert_eq!(self.dims()[axis], 1, "squeeze: dimension {axis} of shape {:?} is not 1", self.shape);
        let mut dims = self.dims().to_vec();
        let mut strides = self.strides.clone();
        dims.remove(axis);
        strides.remove(axis);
        Layout { shape: Shape::new(dims), strides, offset: self.offset }
    }

    /// The same elements seen with another shape, if that needs no copy; `None` when it would.
    ///
    /// Old dimensions are grouped with new ones whose products match; each group must be contiguous
    /// within itself (`stride[k] = dim[k+1]·stride[k+1]`) for the view to exist.
    pub fn reshape(&self, new: &Shape) -> Option<Layout> {
        assert_eq!(
            new.numel(),
            self.shape.numel(),
            "cannot reshape {:?} ({} elements) to {new:?} ({} elements)",
            self.shape,
            self.shape.numel(),
            new.numel()
        );
        if self.is_contiguous() || new.numel() == 0 {
            return Some(Layout { shape: new.clone(), strides: new.contiguous_strides(), offset: self.offset });
        }
        // Size-1 dims carry no addressing information; drop them first.
        let (od, os): (Vec<usize>, Vec<usize>) =
            self.dims().iter().zip(&self.strides).filter(|(&d, _)| d != 1).map(|(&d, &s)| (d, s)).unzip();
        let nd = new.dims();
        let mut strides = vec![1; nd.len()];
        let (mut oi, mut ni) = (0, 0);
        while oi < od.len() && ni < nd.len() {
            let (mut op, mut np) = (od[oi], nd[ni]);
            let (mut oj, mut nj) = (oi + 1, ni + 1);
            while op != np {
                if np < op {
                    np *= nd[nj];
                    nj += 1;
                } else {
                    op *= od[oj];
                    oj += 1;
                }
            }
            if (oi..oj - 1).any(|k| os[k] != od[k + 1] * os[k + 1]) {
                return None;
            }
            strides[nj - 1] = os[oj - 1];
            for k in (ni + 1..nj).rev() {
                strides[k - 1] = strides[k] * nd[k];
            }
            (oi, ni) = (oj, nj);
        }
        Some(Layout { shape: new.clone(), strides, offset: self.offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_and_narrow_only_move_strides() {
        let l = Layout::contiguous([2, 3, 4]);
        let p = l.permute(&[2, 0, 1]);
        assert_eq!(p.dims(), &[4, 2, 3]);
        assert_eq!(p.strides(), &[1, 12, 4]);
        let n = l.narrow(1, 1, 2);
        assert_eq!(n.offset(), 4);
        assert!(!n.is_contiguous());
        assert_eq!(n.storage_extent(), 24);
    }

    #[test]
    fn reshape_of_a_transposed_view_needs_a_copy() {
        let t = Layout::contiguous([3, 4]).permute(&[1, 0]);
        assert!(t.reshape(&Shape::from([12])).is_none());
        // Splitting one dim of a transposed view is still a view.
        let s = t.reshape(&Shape::from([2, 2, 3])).unwrap();
        assert_eq!(s.strides(), &[2, 1, 4]);
    }

    #[test]
    fn reshape_of_a_narrowed_view_keeps_its_rows() {
        // Rows 0..2 of a [4, 6] matrix, reshaped to [2, 2, 3]: each row splits in place.
        let l = Layout::contiguous([4, 6]).narrow(0, 1, 2).narrow(1, 0, 6);
        let r = l.reshape(&Shape::from([2, 2, 3])).unwrap();
        assert_eq!((r.strides(), r.offset()), (&[6, 3, 1][..], 6));
        // Merging across a gap is impossible.
        let g = Layout::contiguous([4, 6]).narrow(1, 0, 3);
        assert!(g.reshape(&Shape::from([12])).is_none());
    }

    #[test]
    fn broadcast_repeats_with_zero_stride() {
        let l = Layout::contiguous([3, 1]).broadcast_to(&Shape::from([2, 3, 5]));
        assert_eq!(l.strides(), &[0, 1, 0]);
    }

    #[test]
    fn unsqueeze_then_squeeze_round_trips() {
        let l = Layout::contiguous([2, 3]).permute(&[1, 0]);
        for axis in 0..=2 {
            assert_eq!(l.unsqueeze(axis).squeeze(axis), l);
        }
    }
}
