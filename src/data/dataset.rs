//! A slice dataset over cases on disk (any layout, the built-in phantom included): the paper's
//! per-item order of operations (docs/method.md, "Data") over the preprocessed-slice cache.
//!
//! Per item: read the native slice (int16 HU, uint8 ids) → window to [−1, 1] → for the
//! synthetic task insert a tumour in the kidney at native resolution (training: drawn afresh
//! from the loader's (seed, epoch, position) stream, so every epoch sees new tumours; test: drawn
//! once from (test seed, sample index), so every evaluation sees the same ones) → optional
//! augmentation → resize to the training size (images `INTER_LINEAR`, masks `INTER_NEAREST`).
//! The clean slice (before insertion) goes through the same augmentation and resize, so the
//! perfect-inpainter ceiling of the evaluation can use it.
//!
//! Masks, as the paper's `load_masks`: background and kidney, then for the real-tumour task
//! tumour and cyst; for the synthetic task the synthetic tumour; for slice labels from a CSV
//! the tumour when the case's label map has tumour voxels (else none). The ground truth the
//! evaluation scores against is mask [`TUMOUR_MASK`] when a sample has it.

use super::augment::Augment;
use super::cache::{CachedCase, Slicing};
use super::layout::{Case, LabelIds, Split};
use super::loader::{Item, SliceSource};
use super::preprocessing::{to_model_size, window_slice};
use super::resize::resize_nearest;
use super::slice_labels::{case_name, SliceKey, SliceLabels};
use super::slices::Provenance;
use super::tumour::{insert, Outcome, TumourParams};
use super::window::Window;
use crate::rng::Rng;
use crate::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// The index of the tumour (the evaluation's ground truth) among a sample's masks.
pub const TUMOUR_MASK: usize = 2;

/// What the image-level label means.
#[derive(Clone, Debug)]
pub enum Task {
    /// The paper's synthetic task: a tumour inserted with the given parameters (their
    /// `spacing_mm` is replaced by each case's in-plane spacing).
    Synthetic(TumourParams),
    /// Real tumours: label 1 when the slice has more than `threshold` native tumour pixels.
    RealTumour { threshold: usize },
    /// Image-level labels from a CSV: only the labelled slices, with their labels.
    SliceLabels(Arc<SliceLabels>),
}

/// How tumours are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tumours {
    /// Afresh for every access, from the loader's stream (training).
    Fresh,
    /// Once per sample from (seed, index): the same tumours in every epoch (test).
    Fixed { seed: u64 },
}

#[derive(Clone, Debug)]
pub struct DatasetConfig {
    pub labels: LabelIds,
    pub slicing: Slicing,
    pub window: Window,
    /// The training size (rows, cols).
    pub size: (usize, usize),
    pub task: Task,
    pub tumours: Tumours,
    pub augment: Option<Augment>,
    pub cache_dir: PathBuf,
}

/// One sample with everything the evaluation needs.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The image and the clean image (before any tumour), both rows × cols in [−1, 1].
    pub image: Vec<f32>,
    pub clean: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    /// Masks in the order described in the module header (0/1).
    pub masks: Vec<Vec<u8>>,
    pub label: u8,
    /// For the synthetic task, what happened to the tumour.
    pub outcome: Option<Outcome>,
    pub provenance: Provenance,
}

/// Cases' kept slices, flattened into one index.
pub struct SliceDataset {
    cases: Vec<CachedCase>,
    /// Per case: the patient's name (its file name without the extension).
    names: Vec<String>,
    index: Vec<(u32, u32)>,
    labels: Option<Vec<u8>>,
    /// Per case: its label map holds tumour voxels (slice labels: its masks are known).
    tumour_known: Vec<bool>,
    /// Labelled slices dropped for having fewer organ pixels than the kidney filter keeps.
    pub below_filter: usize,
    cfg: DatasetConfig,
}

/// The labelled slices of one case: (cache slot, label) and how many labelled slices were
/// below the kidney filter.
type Picked = (Vec<(u32, u8)>, usize);

impl SliceDataset {
    /// Opens (building where needed) the slice caches of `cases` restricted to `split` (None:
    /// every case). Cases whose volumes have no kept slice contribute nothing.
    pub fn open(cases: &[Case], split: Option<Split>, cfg: DatasetConfig) -> Result<SliceDataset> {
        if cfg.size.0 == 0 || cfg.size.1 == 0 {
            return Err(Error::Invalid(format!(
                "dataset: training size {:?} must be positive",
                cfg.size
            )));
        }
        let chosen: Vec<&Case> = cases
            .iter()
            .filter(|c| split.is_none() || c.split == split)
            .collect();
        if chosen.is_empty() {
            return Err(Error::Invalid(format!(
                "dataset: no case in split {split:?}"
            )));
        }
        let csv = match &cfg.task {
            Task::SliceLabels(l) => Some(l.clone()),
            _ => None,
        };
        let mut opened = Vec::with_capacity(chosen.len());
        let (mut index, mut labels, mut below_filter) = (Vec::new(), Vec::new(), 0);
        let mut tumour_known = Vec::new();
        for (ci, case) in chosen.iter().enumerate() {
            let cached = CachedCase::open_or_build(&cfg.cache_dir, case, &cfg.slicing)?;
            match &csv {
                None => index.extend((0..cached.len()).map(|s| (ci as u32, s as u32))),
                Some(l) => {
                    let (picked, below) = labelled_slices(l, case, &cached, &cfg)?;
                    below_filter += below;
                    index.extend(picked.iter().map(|&(s, _)| (ci as u32, s)));
                    labels.extend(picked.iter().map(|&(_, y)| y));
                }
            }
            tumour_known.push(csv.is_none() || has_tumour(&cached, &cfg.labels.tumour)?);
            opened.push(cached);
        }
        if index.is_empty() {
            return Err(Error::Invalid(match &csv {
                Some(l) => format!(
                    "dataset: none of the {} cases has a slice labelled in {} with more than {} kidney pixels",
                    chosen.len(),
                    l.path.display(),
                    cfg.slicing.threshold_at_1_5mm
                ),
                None => format!(
                    "dataset: none of the {} cases has a slice with more than {} kidney pixels",
                    chosen.len(),
                    cfg.slicing.threshold_at_1_5mm
                ),
            }));
        }
        let names = chosen
            .iter()
            .map(|c| super::slice_labels::case_name(&c.id).to_string())
            .collect();
        let mut ds = SliceDataset {
            cases: opened,
            names,
            index,
            labels: csv.is_some().then_some(labels),
            tumour_known,
            below_filter,
            cfg,
        };
        if let Task::RealTumour { threshold } = ds.cfg.task.clone() {
            let mut labels = Vec::with_capacity(ds.index.len());
            for &(c, s) in &ds.index {
                let (_, ids) = ds.cases[c as usize].read(s as usize)?;
                let n = ids
                    .iter()
                    .filter(|&&v| ds.cfg.labels.tumour.contains(&(v as u32)))
                    .count();
                labels.push((n > threshold) as u8);
            }
            ds.labels = Some(labels);
        }
        Ok(ds)
    }

    /// Whether some abnormal sample has a ground-truth tumour mask (slice labels from a CSV
    /// over label maps without tumour ids have none: IoU and Dice cannot be computed).
    pub fn has_tumour_masks(&self) -> bool {
        match &self.cfg.task {
            Task::SliceLabels(_) => self.tumour_known.iter().any(|&k| k),
            _ => true,
        }
    }

    /// The image-level labels when they are known up front (real tumours, slice labels).
    pub fn known_labels(&self) -> Option<&[u8]> {
        self.labels.as_deref()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn cases(&self) -> &[CachedCase] {
        &self.cases
    }

    /// Where sample `i` came from.
    pub fn provenance(&self, i: usize) -> Provenance {
        let (c, s) = self.index[i];
        self.cases[c as usize].provenance(s as usize)
    }

    /// Sample `i` at native resolution (windowed, its tumour inserted, augmented), drawing fresh
    /// randomness from `rng`: what [`sample`](Self::sample) resizes.
    pub fn native(&self, i: usize, rng: &mut Rng) -> Result<Sample> {
        let &(c, s) = self.index.get(i).ok_or_else(|| {
            Error::Invalid(format!("dataset: sample {i} of {}", self.index.len()))
        })?;
        let case = &self.cases[c as usize];
        let (h, w) = (case.header.rows, case.header.cols);
        let (hu, ids) = case.read(s as usize)?;
        let mut clean = window_slice(&hu, &self.cfg.window);
        let has = |set: &[u32]| -> Vec<u8> {
            ids.iter()
                .map(|&v| set.contains(&(v as u32)) as u8)
                .collect()
        };
        let kidney = has(&self.cfg.labels.kidney);
        let background: Vec<u8> = ids.iter().map(|&v| (v == 0) as u8).collect();
        let (mut image, mut masks, label, outcome) = match &self.cfg.task {
            Task::Synthetic(prm) => {
                let mut prm = *prm;
                prm.spacing_mm = case.header.spacing[0].min(case.header.spacing[1]) as f64;
                let mut fixed;
                let r = match self.cfg.tumours {
                    Tumours::Fresh => &mut *rng,
                    Tumours::Fixed { seed } => {
                        fixed = Rng::keyed(seed, &[i as u64]);
                        &mut fixed
                    }
                };
                let syn = insert(&clean, &kidney, h, w, &prm, r)?;
                let label = syn.label();
                (
                    syn.image,
                    vec![background, kidney, syn.tumour],
                    label,
                    Some(syn.outcome),
                )
            }
            Task::SliceLabels(_) => {
                let mut masks = vec![background, kidney];
                if self.tumour_known[c as usize] {
                    masks.push(has(&self.cfg.labels.tumour));
                }
                let label = self.labels.as_ref().expect("built in open")[i];
                (clean.clone(), masks, label, None)
            }
            Task::RealTumour { .. } => {
                let tumour = has(&self.cfg.labels.tumour);
                let cyst = has(&self.cfg.labels.cyst);
                let label = self.labels.as_ref().expect("built in open")[i];
                (
                    clean.clone(),
                    vec![background, kidney, tumour, cyst],
                    label,
                    None,
                )
            }
        };
        if let Some(aug) = &self.cfg.augment {
            // The clean image must see the same transform: replay the same stream on it.
            let mut r2 = rng.clone();
            aug.apply(&mut image, &mut masks, h, w, rng);
            aug.apply(&mut clean, &mut [], h, w, &mut r2);
        }
        Ok(Sample {
            image,
            clean,
            rows: h,
            cols: w,
            masks,
            label,
            outcome,
            provenance: case.provenance(s as usize),
        })
    }

    /// Sample `i` at the training size, drawing fresh randomness from `rng`.
    pub fn sample(&self, i: usize, rng: &mut Rng) -> Result<Sample> {
        let n = self.native(i, rng)?;
        let (h, w) = (n.rows, n.cols);
        let (rows, cols) = self.cfg.size;
        let masks = n
            .masks
            .iter()
            .map(|m| resize_nearest(m, h, w, rows, cols))
            .collect::<Result<Vec<_>>>()?;
        Ok(Sample {
            image: to_model_size(&n.image, h, w, self.cfg.size)?,
            clean: to_model_size(&n.clean, h, w, self.cfg.size)?,
            rows,
            cols,
            masks,
            ..n
        })
    }
}

/// Whether any kept slice of `case` holds one of the `tumour` ids.
fn has_tumour(case: &CachedCase, tumour: &[u32]) -> Result<bool> {
    for s in 0..case.len() {
        if case
            .read(s)?
            .1
            .iter()
            .any(|&v| tumour.contains(&(v as u32)))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The slices of `case` that `labels` labels, as (cache slot, label), and how many labelled
/// slices the kidney filter dropped. A labelled slice that does not exist, that has no organ
/// voxel, or a UID that is not in the series is an error naming the CSV's row.
fn labelled_slices(
    labels: &SliceLabels,
    case: &Case,
    cached: &CachedCase,
    cfg: &DatasetConfig,
) -> Result<Picked> {
    let name = case_name(&case.id);
    let Some(rows) = labels.cases.get(name) else {
        return Ok((Vec::new(), 0));
    };
    let kept: std::collections::HashMap<usize, u32> = (0..cached.len())
        .map(|s| (cached.provenance(s).index, s as u32))
        .collect();
    let mut organ: Option<Vec<usize>> = None;
    let mut uids: Option<Vec<String>> = None;
    let (mut picked, mut below) = (Vec::new(), 0);
    for (key, l) in rows {
        let index = match key {
            SliceKey::Every => {
                let mut all: Vec<(&usize, &u32)> = kept.iter().collect();
                all.sort();
                picked.extend(all.into_iter().map(|(_, &s)| (s, l.label)));
                continue;
            }
            SliceKey::Index(k) => *k,
            SliceKey::Uid(u) => {
                if uids.is_none() {
                    if !case.image.is_dir() {
                        return Err(labels.row_error(
                            name,
                            key,
                            format!("a sop_instance_uid, but case {name} is not a DICOM series"),
                        ));
                    }
                    uids = Some(super::dicom::slice_uids(&case.image, None)?);
                }
                let found = uids.as_ref().and_then(|v| v.iter().position(|x| x == u));
                found.ok_or_else(|| {
                    labels.row_error(
                        name,
                        key,
                        format!(
                            "no slice of series {} has SOP Instance UID {u}",
                            case.image.display()
                        ),
                    )
                })?
            }
        };
        if let Some(&s) = kept.get(&index) {
            picked.push((s, l.label));
            continue;
        }
        if organ.is_none() {
            organ = Some(organ_voxels(case, cfg)?);
        }
        let counts = organ.as_ref().expect("read above");
        match counts.get(index) {
            None => {
                return Err(labels.row_error(
                    name,
                    key,
                    format!(
                        "case {name} has no slice {index} (it has {} along the axial axis)",
                        counts.len()
                    ),
                ))
            }
            Some(0) => {
                return Err(labels.row_error(
                    name,
                    key,
                    format!(
                        "slice {index} of case {name} has no organ voxels (label ids {:?} in {})",
                        cfg.labels.kidney,
                        case.labels.display()
                    ),
                ))
            }
            Some(_) => below += 1,
        }
    }
    Ok((picked, below))
}

/// The organ (kidney id) voxels of each slice of `case` along the slicing axis.
fn organ_voxels(case: &Case, cfg: &DatasetConfig) -> Result<Vec<usize>> {
    let v = super::nifti::read_volume(&case.labels)?;
    let axis = cfg.slicing.axis;
    let d = v.dims;
    let mut counts = vec![0usize; d[axis]];
    for (i, &x) in v.data.iter().enumerate() {
        if cfg.slicing.kidney.contains(&(x as u32)) {
            let at = [i % d[0], i / d[0] % d[1], i / (d[0] * d[1])];
            counts[at[axis]] += 1;
        }
    }
    Ok(counts)
}

impl SliceSource for SliceDataset {
    fn len(&self) -> usize {
        self.index.len()
    }
    fn item(&self, index: usize, rng: &mut Rng) -> Result<Item> {
        let s = self.sample(index, rng)?;
        Ok(Item {
            image: s.image,
            rows: s.rows,
            cols: s.cols,
            masks: s.masks,
            label: s.label,
            clean: Some(s.clean),
        })
    }
    fn labels(&self) -> Option<Vec<u8>> {
        self.labels.clone()
    }
    fn patient(&self, index: usize) -> Option<String> {
        let &(c, _) = self.index.get(index)?;
        self.names.get(c as usize).cloned()
    }
}
