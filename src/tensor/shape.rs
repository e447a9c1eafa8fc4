//! Shapes (row-major, contiguous) and NumPy broadcasting.

use crate::{Error, Result};
use std::fmt;

/// A tensor's dimensions, outermost first (NCHW for images).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    pub fn new(dims: &[usize]) -> Self {
        Shape(dims.to_vec())
    }
    pub fn dims(&self) -> &[usize] {
        &self.0
    }
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }
    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut s = vec![1; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * self.0[i + 1];
        }
        s
    }
    /// The four dimensions of an NCHW tensor, or an error naming the op.
    pub fn dims4(&self, op: &str) -> Result<(usize, usize, usize, usize)> {
        match self.0[..] {
            [n, c, h, w] => Ok((n, c, h, w)),
            _ => Err(Error::Shape(format!(
                "{op}: expected a 4-D NCHW tensor, got shape {self}"
            ))),
        }
    }
    /// The two dimensions of a matrix, or an error naming the op.
    pub fn dims2(&self, op: &str) -> Result<(usize, usize)> {
        match self.0[..] {
            [a, b] => Ok((a, b)),
            _ => Err(Error::Shape(format!(
                "{op}: expected a 2-D tensor, got shape {self}"
            ))),
        }
    }
    /// Normalises a possibly negative axis.
    pub fn axis(&self, axis: isize, op: &str) -> Result<usize> {
        let r = self.rank() as isize;
        let a = if axis < 0 { axis + r } else { axis };
        if a < 0 || a >= r {
            return Err(Error::Shape(format!(
                "{op}: axis {axis} out of range for shape {self}"
            )));
        }
        Ok(a as usize)
    }
    /// The NumPy broadcast of two shapes.
    pub fn broadcast(&self, other: &Shape, op: &str) -> Result<Shape> {
        let r = self.rank().max(other.rank());
        let mut out = vec![0; r];
        for (i, o) in out.iter_mut().enumerate() {
            let a = dim_from_right(&self.0, r - 1 - i);
            let b = dim_from_right(&other.0, r - 1 - i);
            *o = match (a, b) {
                (a, b) if a == b => a,
                (1, b) => b,
                (a, 1) => a,
                _ => {
                    return Err(Error::Shape(format!(
                        "{op}: shapes {self} and {other} do not broadcast (dimension {a} vs {b})"
                    )))
                }
            };
        }
        Ok(Shape(out))
    }
    /// Strides for reading a tensor of this shape as if it had `target`'s shape (0 on
    /// broadcast dimensions). `target` must be a broadcast of `self`.
    pub fn broadcast_strides(&self, target: &Shape) -> Vec<usize> {
        let own = self.strides();
        let r = target.rank();
        let off = r - self.rank();
        (0..r)
            .map(|i| {
                if i < off || self.0[i - off] == 1 {
                    0
                } else {
                    own[i - off]
                }
            })
            .collect()
    }
}

fn dim_from_right(d: &[usize], k: usize) -> usize {
    if k < d.len() {
        d[d.len() - 1 - k]
    } else {
        1
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape(d.to_vec())
    }
}
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape(d.to_vec())
    }
}
impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Self {
        Shape(d)
    }
}
