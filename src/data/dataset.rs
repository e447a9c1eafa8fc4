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
//! tumour and cyst; for the synthetic task the synthetic tumour last.

use super::augment::Augment;
use super::cache::{CachedCase, Slicing};
use super::layout::{Case, LabelIds, Split};
use super::loader::{Item, SliceSource};
use super::preprocessing::{to_model_size, window_slice};
use super::resize::resize_nearest;
use super::slices::Provenance;
use super::tumour::{insert, Outcome, TumourParams};
use super::window::Window;
use crate::rng::Rng;
use crate::{Error, Result};
use std::path::PathBuf;

/// What the image-level label means.
#[derive(Clone, Copy, Debug)]
pub enum Task {
    /// The paper's synthetic task: a tumour inserted with the given parameters (their
    /// `spacing_mm` is replaced by each case's in-plane spacing).
    Synthetic(TumourParams),
    /// Real tumours: label 1 when the slice has more than `threshold` native tumour pixels.
    RealTumour { threshold: usize },
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
    index: Vec<(u32, u32)>,
    labels: Option<Vec<u8>>,
    cfg: DatasetConfig,
}

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
        let mut opened = Vec::with_capacity(chosen.len());
        let mut index = Vec::new();
        for (ci, case) in chosen.iter().enumerate() {
            let cached = CachedCase::open_or_build(&cfg.cache_dir, case, &cfg.slicing)?;
            index.extend((0..cached.len()).map(|s| (ci as u32, s as u32)));
            opened.push(cached);
        }
        if index.is_empty() {
            return Err(Error::Invalid(format!(
                "dataset: none of the {} cases has a slice with more than {} kidney pixels",
                chosen.len(),
                cfg.slicing.threshold_at_1_5mm
            )));
        }
        let mut ds = SliceDataset {
            cases: opened,
            index,
            labels: None,
            cfg,
        };
        if let Task::RealTumour { threshold } = ds.cfg.task {
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
        let (mut image, mut masks, label, outcome) = match self.cfg.task {
            Task::Synthetic(mut prm) => {
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
}
