//! Axial slices of a volume, with provenance so a predicted mask can be written back into its
//! volume, and the paper's slice filter and labels.
//!
//! A slice along `axis` holds the two other axes, the lower-numbered one as rows: for the
//! TotalSegmentator and nnU-Net layouts (axial = axis 2) that is the paper's `vol[:, :, k]`, X as
//! rows and Y as columns; for KiTS (axial = axis 0) it is `vol[k, :, :]`. Layout-specific
//! fix-ups (the paper's transpose and flips) are recorded in the provenance too.

use super::nifti::Volume;
use super::resize::{resize_linear, resize_nearest};
use crate::{Error, Result};
use std::path::PathBuf;

/// Where a slice came from and how it was turned.
#[derive(Clone, Debug, PartialEq)]
pub struct Provenance {
    pub volume: PathBuf,
    /// The slicing axis (0, 1 or 2) and the index along it.
    pub axis: usize,
    pub index: usize,
    /// Volume axes that became rows and columns (before `transposed`).
    pub rows_axis: usize,
    pub cols_axis: usize,
    /// Applied in this order after cutting: transpose, then flip rows, then flip columns.
    pub transposed: bool,
    pub flip_rows: bool,
    pub flip_cols: bool,
    /// Size of the cut slice (before any resize), rows × columns after the transpose.
    pub rows: usize,
    pub cols: usize,
}

/// A 2-D slice (row-major).
#[derive(Clone, Debug)]
pub struct Slice {
    pub data: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    pub provenance: Provenance,
}

fn strides(v: &Volume) -> [usize; 3] {
    [1, v.dims[0], v.dims[0] * v.dims[1]]
}

/// The volume axes a slice along `axis` keeps, as (rows, columns).
pub fn in_plane_axes(axis: usize) -> (usize, usize) {
    match axis {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    }
}

/// Index in the volume of slice pixel (r, c) under `p` (inverse of the fix-ups).
fn source_index(v: &Volume, p: &Provenance, r: usize, c: usize) -> usize {
    let r = if p.flip_rows { p.rows - 1 - r } else { r };
    let c = if p.flip_cols { p.cols - 1 - c } else { c };
    let (a, b) = if p.transposed { (c, r) } else { (r, c) };
    let s = strides(v);
    p.index * s[p.axis] + a * s[p.rows_axis] + b * s[p.cols_axis]
}

/// Cuts slice `index` along `axis`, then transposes / flips as asked.
pub fn cut(
    v: &Volume,
    axis: usize,
    index: usize,
    transpose: bool,
    flip_rows: bool,
    flip_cols: bool,
) -> Result<Slice> {
    if axis > 2 || index >= v.dims[axis] {
        return Err(Error::Shape(format!(
            "slice {index} along axis {axis} is outside volume {} of dims {:?}",
            v.source.display(),
            v.dims
        )));
    }
    let (ra, ca) = in_plane_axes(axis);
    let (rows, cols) = if transpose {
        (v.dims[ca], v.dims[ra])
    } else {
        (v.dims[ra], v.dims[ca])
    };
    let provenance = Provenance {
        volume: v.source.clone(),
        axis,
        index,
        rows_axis: ra,
        cols_axis: ca,
        transposed: transpose,
        flip_rows,
        flip_cols,
        rows,
        cols,
    };
    let mut data = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            data.push(v.data[source_index(v, &provenance, r, c)]);
        }
    }
    Ok(Slice {
        data,
        rows,
        cols,
        provenance,
    })
}

/// Writes a slice-sized mask (rows × cols of the provenance, e.g. after resizing it back) into
/// `target`, a volume on the source's grid.
pub fn write_back(mask: &[f32], p: &Provenance, target: &mut Volume) -> Result<()> {
    if mask.len() != p.rows * p.cols {
        return Err(Error::Shape(format!(
            "write_back: {} values for a {}×{} slice",
            mask.len(),
            p.rows,
            p.cols
        )));
    }
    if p.index >= target.dims[p.axis] {
        return Err(Error::Shape(format!(
            "write_back: slice {} outside dims {:?}",
            p.index, target.dims
        )));
    }
    for r in 0..p.rows {
        for c in 0..p.cols {
            let i = source_index(target, p, r, c);
            target.data[i] = mask[r * p.cols + c];
        }
    }
    Ok(())
}

/// Number of label voxels of slice `index` along `axis` whose id is in `ids`.
pub fn count_in_slice(labels: &Volume, axis: usize, index: usize, ids: &[u32]) -> usize {
    let s = strides(labels);
    let (ra, ca) = in_plane_axes(axis);
    let mut n = 0;
    for a in 0..labels.dims[ra] {
        for b in 0..labels.dims[ca] {
            let v = labels.data[index * s[axis] + a * s[ra] + b * s[ca]];
            n += ids.contains(&(v as u32)) as usize;
        }
    }
    n
}

/// The paper's slice filter: indices along `axis` with more than `threshold` kidney pixels (32
/// at 1.5 mm; pass `scaled_threshold(32, spacing)` for other spacings).
pub fn kidney_slices(labels: &Volume, axis: usize, kidney: &[u32], threshold: usize) -> Vec<usize> {
    (0..labels.dims[axis])
        .filter(|&k| count_in_slice(labels, axis, k, kidney) > threshold)
        .collect()
}

/// The paper's real-data slice label: 1 when the slice has more than `threshold` tumour pixels
/// (TUH: 1000 native pixels, tumour ids only).
pub fn tumour_label(
    labels: &Volume,
    axis: usize,
    index: usize,
    tumour: &[u32],
    threshold: usize,
) -> u8 {
    (count_in_slice(labels, axis, index, tumour) > threshold) as u8
}

/// The paper's kidney-slice filter: more than this many kidney pixels at 1.5 mm in-plane spacing.
pub const KIDNEY_PIXELS_AT_1_5MM: usize = 32;

/// The slices along `axis` with more than `at_1_5mm` voxels of `ids` (scaled to the volume's
/// finer in-plane spacing), with their counts: the slice filter of training and of `segment`.
pub fn organ_slices(
    labels: &Volume,
    axis: usize,
    ids: &[u32],
    at_1_5mm: usize,
) -> Vec<(usize, usize)> {
    let (ra, ca) = in_plane_axes(axis);
    let spacing = labels.spacing[ra].min(labels.spacing[ca]) as f64;
    let threshold = scaled_threshold(at_1_5mm, spacing);
    (0..labels.dims[axis])
        .map(|k| (k, count_in_slice(labels, axis, k, ids)))
        .filter(|&(_, n)| n > threshold)
        .collect()
}

/// A pixel-count threshold given at 1.5 mm, scaled to `spacing_mm` (areas scale with its square).
pub fn scaled_threshold(at_1_5mm: usize, spacing_mm: f64) -> usize {
    (at_1_5mm as f64 * (1.5 / spacing_mm).powi(2)).round() as usize
}

impl Slice {
    /// The image resized as the paper's `Resize` (OpenCV `INTER_LINEAR`).
    pub fn resized(&self, rows: usize, cols: usize) -> Result<Vec<f32>> {
        resize_linear(&self.data, self.rows, self.cols, rows, cols)
    }
    /// As a mask (nearest neighbour).
    pub fn resized_mask(&self, rows: usize, cols: usize) -> Result<Vec<f32>> {
        resize_nearest(&self.data, self.rows, self.cols, rows, cols)
    }
}
