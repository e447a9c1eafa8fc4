//! Which way a volume's voxel axes point in the world, so a scan is sliced in the orientation
//! the model was trained on whatever its storage order (RAS, LPS, transposed in-plane axes).
//!
//! Each voxel axis is named by the world axis (of the affine's frame: x, y, z) its direction is
//! nearest to, and the sign. The axial axis is the voxel axis nearest the world z (superior–
//! inferior) direction. Training records the world directions of its slices' rows and columns
//! ([`SliceOrientation`]); [`plan`] finds the transpose and flips that bring another volume's
//! slices to that orientation (the slice provenance applies and undoes them).

use super::nifti::Volume;
use super::slices::in_plane_axes;
use serde::{Deserialize, Serialize};

/// A voxel axis's direction: the nearest world axis (0 = x, 1 = y, 2 = z) and its sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxisDirection {
    pub world: usize,
    pub positive: bool,
}

impl AxisDirection {
    /// RAS+ letters of the end the axis runs towards, as NiBabel's `aff2axcodes` prints them.
    pub fn code(self) -> char {
        let letters = [['L', 'R'], ['P', 'A'], ['I', 'S']];
        letters[self.world][self.positive as usize]
    }
}

/// The world directions of a slice's rows (its first index) and columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceOrientation {
    pub rows: AxisDirection,
    pub cols: AxisDirection,
}

/// The direction of each voxel axis of `affine` (voxel → world).
pub fn axis_directions(affine: &[[f64; 4]; 4]) -> [AxisDirection; 3] {
    std::array::from_fn(|i| {
        let col = [affine[0][i], affine[1][i], affine[2][i]];
        let world = (0..3)
            .max_by(|&a, &b| col[a].abs().total_cmp(&col[b].abs()))
            .expect("three axes");
        AxisDirection {
            world,
            positive: col[world] >= 0.0,
        }
    })
}

/// The voxel axis whose direction is nearest the world superior–inferior (z) axis.
pub fn axial_axis(affine: &[[f64; 4]; 4]) -> usize {
    let cos_z = |i: usize| {
        let col = [affine[0][i], affine[1][i], affine[2][i]];
        let norm = col.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            col[2].abs() / norm
        } else {
            0.0
        }
    };
    (0..3)
        .max_by(|&a, &b| cos_z(a).total_cmp(&cos_z(b)))
        .expect("three axes")
}

/// The orientation of `v`'s slices along `axis` as cut without transpose or flips.
pub fn slice_orientation(v: &Volume, axis: usize) -> SliceOrientation {
    let d = axis_directions(&v.affine);
    let (ra, ca) = in_plane_axes(axis);
    SliceOrientation {
        rows: d[ra],
        cols: d[ca],
    }
}

/// How to cut slices of a volume so they match a training orientation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reorientation {
    pub transpose: bool,
    pub flip_rows: bool,
    pub flip_cols: bool,
}

impl Reorientation {
    pub const NONE: Reorientation = Reorientation {
        transpose: false,
        flip_rows: false,
        flip_cols: false,
    };
}

/// The transpose and flips (applied in that order, as [`super::slices::cut`] does) that turn
/// `v`'s slices along `axis` into `target`'s orientation; `None` when the in-plane axes point
/// along other world axes than the target's (e.g. slicing along a non-axial axis).
pub fn plan(v: &Volume, axis: usize, target: &SliceOrientation) -> Option<Reorientation> {
    let here = slice_orientation(v, axis);
    let same = here.rows.world == target.rows.world && here.cols.world == target.cols.world;
    let swapped = here.rows.world == target.cols.world && here.cols.world == target.rows.world;
    if same {
        Some(Reorientation {
            transpose: false,
            flip_rows: here.rows.positive != target.rows.positive,
            flip_cols: here.cols.positive != target.cols.positive,
        })
    } else if swapped {
        // After the transpose the slice's rows run along the volume's column axis.
        Some(Reorientation {
            transpose: true,
            flip_rows: here.cols.positive != target.rows.positive,
            flip_cols: here.rows.positive != target.cols.positive,
        })
    } else {
        None
    }
}
