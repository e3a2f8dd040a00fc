//! `Shape`: the sizes of a tensor's dimensions, and the shape algebra (broadcasting, axis lookup).

use std::fmt;

/// The size of each dimension, outermost first. A rank-0 shape (no dims) is a scalar.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(Vec<usize>);

impl Shape {
    /// Takes the sizes outermost first; any size may be 0 (an empty tensor), and no dims at all is
    /// a scalar. Also built by `From` for arrays, slices and `Vec`s, so ops take `[2, 3]` directly.
    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }

    /// The sizes, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// The size of one dimension; negative axes count from the end.
    pub fn dim(&self, axis: isize) -> usize {
        self.0[self.axis(axis)]
    }

    /// Resolve a possibly negative axis (−1 is the last) to an index, panicking with the shape if out of range.
    pub fn axis(&self, axis: isize) -> usize {
        let rank = self.rank() as isize;
        let resolved = if axis < 0 { axis + rank } else { axis };
        assert!(
            (0..rank).contains(&resolved),
            "axis {axis} is out of range for a tensor of shape {self:?} (rank {rank})"
        );
        resolved as usize
    }

    /// Resolve a set of axes, sorted and checked for duplicates.
    pub fn axes(&self, axes: &[isize]) -> Vec<usize> {
        let mut out: Vec<usize> = axes.iter().map(|&a| self.axis(a)).collect();
        out.sort_unstable();
        let before = out.len();
        out.dedup();
        assert_eq!(before, out.len(), "axis list {axes:?} repeats an axis (shape {self:?})");
        out
    }

    /// Row-major (C-order) strides in elements for this shape.
    pub fn contiguous_strides(&self) -> Vec<usize> {
        let mut strides = vec![0; self.rank()];
        let mut step = 1;
        for (stride, &d) in strides.iter_mut().zip(&self.0).rev() {
            *stride = step;
            step *= d;
        }
        strides
    }

    /// The shape both operands broadcast to under NumPy rules (align on the right; sizes equal or 1).
    pub fn broadcast(&self, other: &Shape) -> Shape {
        self.try_broadcast(other)
            .unwrap_or_else(|| panic!("shapes {self:?} and {other:?} cannot be broadcast together"))
    }

    /// The broadcast shape, or `None` where some pair of dimensions differs and neither is 1.
    pub fn try_broadcast(&self, other: &Shape) -> Option<Shape> {
        let rank = self.rank().max(other.rank());
        let mut dims = vec![0; rank];
        for (i, d) in dims.iter_mut().enumerate() {
            let a = self.dim_from_right(rank - 1 - i);
            let b = other.dim_from_right(rank - 1 - i);
            *d = match (a, b) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => return None,
            };
        }
        Some(Shape(dims))
    }

    /// Size of the dimension `k` places from the right, or 1 past the left end (for broadcasting).
    fn dim_from_right(&self, k: usize) -> usize {
        if k < self.rank() {
            self.0[self.rank() - 1 - k]
        } else {
            1
        }
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(v: Vec<usize>) -> Self {
        Shape(v)
    }
}

impl From<&[usize]> for Shape {
    fn from(v: &[usize]) -> Self {
        Shape(v.to_vec())
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(v: [usize; N]) -> Self {
        Shape(v.to_vec())
    }
}

impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Self {
        s.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        let s = |d: &[usize]| Shape::from(d);
        assert_eq!(s(&[4, 1, 3]).broadcast(&s(&[5, 1])), s(&[4, 5, 3]));
        assert_eq!(s(&[]).broadcast(&s(&[2, 3])), s(&[2, 3]));
        assert_eq!(s(&[0, 3]).broadcast(&s(&[1, 3])), s(&[0, 3]));
    }

    #[test]
    #[should_panic(expected = "cannot be broadcast")]
    fn incompatible_shapes_are_rejected() {
        Shape::from([2, 3]).broadcast(&Shape::from([4, 3]));
    }

    #[test]
    fn negative_axes_count_from_the_end() {
        let s = Shape::from([2, 3, 4]);
        assert_eq!(s.axis(-1), 2);
        assert_eq!(s.axes(&[-1, 0]), vec![0, 2]);
        assert_eq!(s.contiguous_strides(), vec![12, 4, 1]);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn axis_out_of_range_names_the_shape() {
        Shape::from([2, 3]).axis(2);
    }
}
