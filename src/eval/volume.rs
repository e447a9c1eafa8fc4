//! COIN on a whole CT volume: each chosen slice is cut in the training orientation,
//! preprocessed exactly as training (int16 HU, the run's window, bilinear resize to the model's
//! size), healed by the generator, and its difference `|x − x_cf|` (in [0, 1] units) resampled
//! back to the slice's native size (bilinear, half-pixel) and thresholded there, so masks follow
//! the scan's own resolution. The mask is written back through the slice's provenance onto the
//! input's exact grid.

use super::difference::{difference, mask};
use super::morphology::postprocess;
use super::segmentation::probabilities;
use crate::data::orientation::{axial_axis, plan, Reorientation};
use crate::data::preprocessing::{to_model_size, window_slice};
use crate::data::slices::{cut, organ_slices, write_back, Slice, KIDNEY_PIXELS_AT_1_5MM};
use crate::data::{resize_linear, Preprocessing, Volume, Window};
use crate::models::{counterfactual, CoinNets, ResNet18};
use crate::{no_grad, Error, Result, Tensor};

/// An organ label map on the input's grid and the label ids that count as the organ.
pub struct OrganMask<'a> {
    pub labels: &'a Volume,
    pub ids: Vec<u32>,
}

/// How to segment.
pub struct SegmentOptions<'a> {
    /// `|x − x_cf|` in [0, 1] units above this is tumour.
    pub threshold: f64,
    /// The paper's 3×3 opening, closing and largest component, per slice, at native size.
    pub postprocess: bool,
    /// The slicing axis; `None`: the voxel axis nearest the world superior–inferior axis.
    pub axis: Option<usize>,
    /// Slices whose organ area passes training's filter; `None`: every slice.
    pub organ: Option<OrganMask<'a>>,
    /// Slices per forward pass.
    pub batch: usize,
    /// Also return the counterfactual (HU) and the difference map on the input's grid.
    pub counterfactual: bool,
    pub difference: bool,
}

/// One processed slice, for the per-slice CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceRecord {
    pub index: usize,
    /// Organ voxels in the slice (when an organ mask was given).
    pub organ_pixels: Option<usize>,
    /// The classifier's p(abnormal) of the slice and of its counterfactual.
    pub p_before: f64,
    pub p_after: f64,
    /// Mask voxels of the slice (after post-processing, when asked).
    pub changed_pixels: usize,
}

/// The outputs on the input's grid (NIfTI order).
pub struct VolumeSegmentation {
    pub mask: Vec<u8>,
    /// The input plus the generator's change, in HU (unprocessed slices: the input).
    pub counterfactual_hu: Option<Vec<f32>>,
    /// `|x − x_cf|` in [0, 1] units at native resolution (unprocessed slices: 0).
    pub difference: Option<Vec<f32>>,
    pub slices: Vec<SliceRecord>,
    pub axis: usize,
    pub reorientation: Reorientation,
    /// Set when the training orientation could not be matched (slices used as stored).
    pub orientation_warning: Option<String>,
}

impl VolumeSegmentation {
    /// The per-slice table as CSV (a header line, then one line per processed slice).
    pub fn csv(&self) -> String {
        let mut s = String::from("axis,index,organ_pixels,p_before,p_after,changed_pixels\n");
        for r in &self.slices {
            s += &format!(
                "{},{},{},{:.6},{:.6},{}\n",
                self.axis,
                r.index,
                r.organ_pixels.map_or(String::new(), |n| n.to_string()),
                r.p_before,
                r.p_after,
                r.changed_pixels
            );
        }
        s
    }
}

fn same_grid(a: &Volume, b: &Volume) -> bool {
    let close = a
        .affine
        .iter()
        .flatten()
        .zip(b.affine.iter().flatten())
        .all(|(x, y)| (x - y).abs() <= 1e-3 * (1.0 + x.abs().max(y.abs())));
    a.dims == b.dims && close
}

/// Refuses an organ mask whose values look like an image rather than label ids: a negative
/// value, a non-integer, or more than 255 distinct values (a CT passed as the organ mask).
pub fn check_organ_mask(labels: &Volume) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::Invalid(format!(
            "organ mask {} does not look like a label map ({why}): give an organ segmentation \
             (e.g. TotalSegmentator's output), not the scan",
            labels.source.display()
        )))
    };
    let mut distinct = std::collections::BTreeSet::new();
    for (i, &v) in labels.data.iter().enumerate() {
        if v < 0.0 {
            return refuse(format!("{v} at voxel {i}"));
        }
        if v.fract() != 0.0 || !v.is_finite() {
            return refuse(format!("the non-integer {v} at voxel {i}"));
        }
        if distinct.insert(v as u32) && distinct.len() > 255 {
            return refuse("more than 255 distinct values".into());
        }
    }
    Ok(())
}

/// The slices to process along `axis`, with their organ voxel counts: every slice, or those that
/// pass training's kidney filter in the organ mask.
fn chosen_slices(
    v: &Volume,
    axis: usize,
    organ: &Option<OrganMask>,
) -> Result<Vec<(usize, Option<usize>)>> {
    let Some(o) = organ else {
        return Ok((0..v.dims[axis]).map(|k| (k, None)).collect());
    };
    if !same_grid(v, o.labels) {
        return Err(Error::Invalid(format!(
            "organ mask {} is on another grid than {} (dims {:?} vs {:?}, or another affine): resample it onto the scan first",
            o.labels.source.display(),
            v.source.display(),
            o.labels.dims,
            v.dims
        )));
    }
    Ok(organ_slices(o.labels, axis, &o.ids, KIDNEY_PIXELS_AT_1_5MM)
        .into_iter()
        .map(|(k, n)| (k, Some(n)))
        .collect())
}

/// What segmentation needs of a trained model: the counterfactual networks, the frozen
/// classifier, and the preprocessing their inputs were made with.
#[derive(Clone, Copy)]
pub struct Networks<'a> {
    pub nets: &'a CoinNets,
    pub classifier: &'a ResNet18,
    pub prep: &'a Preprocessing,
}

/// The model on a batch of windowed native slices, as `segment` runs it: each slice resized
/// to the model's size (the inputs), healed, scored by the classifier before and after, and
/// the difference map at the model's size.
pub struct ModelView {
    /// The inputs and counterfactuals, size × size each, slice after slice.
    pub x: Vec<f32>,
    pub x_cf: Vec<f32>,
    pub p: Vec<f64>,
    pub p_cf: Vec<f64>,
    /// `|x − x_cf| / 2`, size × size each.
    pub difference: Vec<f32>,
}

/// [`ModelView`] of `slices` (windowed native slices and their rows × cols).
pub fn run_batch(model: Networks<'_>, slices: &[(&[f32], usize, usize)]) -> Result<ModelView> {
    let size = model.prep.size;
    let mut x = Vec::with_capacity(slices.len() * size * size);
    for &(w, rows, cols) in slices {
        x.extend(to_model_size(w, rows, cols, (size, size))?);
    }
    let device = model.nets.eg.device();
    let xt = Tensor::from_f32(x.clone(), [slices.len(), 1, size, size], device)?;
    let x_cf = no_grad(|| counterfactual(model.nets, &xt))?;
    let p = probabilities(model.classifier, &xt)?;
    let p_cf = probabilities(model.classifier, &x_cf)?;
    let x_cf = x_cf.try_to_vec_f32()?;
    let difference = difference(&x, &x_cf);
    Ok(ModelView {
        x,
        x_cf,
        p,
        p_cf,
        difference,
    })
}

/// How slices along `axis` are turned to the training orientation, and a warning when they
/// cannot be.
fn orientation_plan(
    prep: &Preprocessing,
    v: &Volume,
    axis: usize,
) -> (Reorientation, Option<String>) {
    match prep.orientation {
        None => (
            Reorientation::NONE,
            Some("the run records no training orientation (an older run): slices are used as stored".to_string()),
        ),
        Some(t) => match plan(v, axis, &t) {
            Some(r) => (r, None),
            None => (
                Reorientation::NONE,
                Some(format!(
                    "the in-plane axes of slices along axis {axis} do not match the training orientation \
                     ({}{} rows/columns): slices are used as stored",
                    t.rows.code(),
                    t.cols.code()
                )),
            ),
        },
    }
}

/// The volumes a segmentation writes into, on the input's grid.
struct Outputs {
    mask: Volume,
    counterfactual: Option<Volume>,
    difference: Option<Volume>,
    hu_per_unit: f32,
}

impl Outputs {
    fn new(v: &Volume, opts: &SegmentOptions, window: &Window) -> Outputs {
        // Zero volumes on the input's grid (`..v.clone()` would copy the voxels only to drop them).
        let zeros_like = || Volume {
            data: vec![0.0; v.numel()],
            dims: v.dims,
            spacing: v.spacing,
            affine: v.affine,
            geometry: v.geometry.clone(),
            source: v.source.clone(),
        };
        Outputs {
            mask: zeros_like(),
            counterfactual: opts.counterfactual.then(|| v.clone()),
            difference: opts.difference.then(zeros_like),
            hu_per_unit: (window.hi - window.lo) / 2.0,
        }
    }

    /// Slice `i` of `view` at native size: the thresholded (and post-processed) mask, the
    /// difference and the counterfactual written back; returns the mask's voxel count.
    fn write(
        &mut self,
        view: &ModelView,
        i: usize,
        s: &Slice,
        size: usize,
        opts: &SegmentOptions,
    ) -> Result<usize> {
        let at = i * size * size..(i + 1) * size * size;
        let native = resize_linear(&view.difference[at.clone()], size, size, s.rows, s.cols)?;
        let mut m = mask(&native, opts.threshold);
        if opts.postprocess {
            m = postprocess(&m, s.rows, s.cols);
        }
        let changed = m.iter().filter(|&&b| b).count();
        let mf: Vec<f32> = m.iter().map(|&b| b as u8 as f32).collect();
        write_back(&mf, &s.provenance, &mut self.mask)?;
        if let Some(d) = self.difference.as_mut() {
            write_back(&native, &s.provenance, d)?;
        }
        if let Some(c) = self.counterfactual.as_mut() {
            let delta: Vec<f32> = view.x[at.clone()]
                .iter()
                .zip(&view.x_cf[at])
                .map(|(a, c)| c - a)
                .collect();
            let delta = resize_linear(&delta, size, size, s.rows, s.cols)?;
            let hu: Vec<f32> = s
                .data
                .iter()
                .zip(&delta)
                .map(|(&h, &d)| h + d * self.hu_per_unit)
                .collect();
            write_back(&hu, &s.provenance, c)?;
        }
        Ok(changed)
    }
}

/// Segments `v` with `model`; `progress(done, total)` is called after each batch.
pub fn segment_volume(
    model: Networks<'_>,
    v: &Volume,
    opts: &SegmentOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<VolumeSegmentation> {
    let axis = opts.axis.unwrap_or_else(|| axial_axis(&v.affine));
    if axis > 2 {
        return Err(Error::Invalid(format!("--axis {axis}: must be 0, 1 or 2")));
    }
    if !(opts.threshold > 0.0 && opts.threshold < 1.0) {
        return Err(Error::Invalid(format!(
            "threshold {} must lie in (0, 1) ([0, 1] difference units)",
            opts.threshold
        )));
    }
    let prep = model.prep;
    let (r, orientation_warning) = orientation_plan(prep, v, axis);
    let chosen = chosen_slices(v, axis, &opts.organ)?;
    let window = Window::hu(prep.window_hu[0], prep.window_hu[1])?;
    let mut out = Outputs::new(v, opts, &window);
    let mut records = Vec::with_capacity(chosen.len());
    let batch = opts.batch.max(1);
    for (done, group) in chosen.chunks(batch).enumerate() {
        let slices = group
            .iter()
            .map(|&(k, _)| cut(v, axis, k, r.transpose, r.flip_rows, r.flip_cols))
            .collect::<Result<Vec<_>>>()?;
        let windowed: Vec<Vec<f32>> = slices
            .iter()
            .map(|s| window_slice(&s.data, &window))
            .collect();
        let views: Vec<(&[f32], usize, usize)> = slices
            .iter()
            .zip(&windowed)
            .map(|(s, w)| (w.as_slice(), s.rows, s.cols))
            .collect();
        let view = run_batch(model, &views)?;
        for (i, s) in slices.iter().enumerate() {
            records.push(SliceRecord {
                index: group[i].0,
                organ_pixels: group[i].1,
                p_before: view.p[i],
                p_after: view.p_cf[i],
                changed_pixels: out.write(&view, i, s, prep.size, opts)?,
            });
        }
        progress((done * batch + group.len()).min(chosen.len()), chosen.len());
    }
    Ok(VolumeSegmentation {
        mask: out.mask.data.iter().map(|&m| (m > 0.5) as u8).collect(),
        counterfactual_hu: out.counterfactual.map(|c| c.data),
        difference: out.difference.map(|d| d.data),
        slices: records,
        axis,
        reorientation: r,
        orientation_warning,
    })
}
