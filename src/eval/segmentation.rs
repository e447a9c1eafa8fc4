//! Running the frozen classifier and the counterfactual generator over a split and scoring them.

use super::difference::mask_of;
use super::metrics::{roc_auc, BinaryCounts, Confusion};
use super::patients::{patient_interval, PatientConfusion};
use crate::data::dataset::TUMOUR_MASK;
use crate::data::loader::Loader;
use crate::io::figures::Panel;
use crate::models::{counterfactual, counterfactual_as_trained};
use crate::models::{CoinNets, ResNet18};
use crate::nn::Ctx;
use crate::{no_grad, ops, Result, Tensor};
use serde::Serialize;
use std::collections::BTreeMap;

/// Which counterfactual scores a slice and which slices count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// COIN's evaluation, and what `segment` does for either method: every slice, healed
    /// (`G(E(x), 0, x)`); validity among slices with p(x) > τ.
    #[default]
    Coin,
    /// The authors' evaluation of Singla et al.: the counterfactual under the condition the
    /// method trained with (the other class, `bin(1 − p)`); only slices with p < 0.2 or
    /// p > 0.8 count, and validity is the fraction of them with |p − p_cf| > τ.
    Singla,
}

/// The slices the Singla et al. protocol keeps: a confident classifier.
const SINGLA_KEEP: (f64, f64) = (0.2, 0.8);

/// The segmentation rule and the validity threshold.
#[derive(Clone, Copy, Debug)]
pub struct EvalCfg {
    /// `|x − x_cf|` in [0, 1] units above this is tumour (0.25 in the paper).
    pub threshold: f64,
    /// Counterfactual validity counts slices with p(x) above this (0.8).
    pub validity_tau: f64,
    /// How many abnormal slices to keep as sample panels.
    pub keep_samples: usize,
    pub protocol: Protocol,
}

impl Default for EvalCfg {
    fn default() -> Self {
        EvalCfg {
            threshold: 0.25,
            validity_tau: 0.8,
            keep_samples: 4,
            protocol: Protocol::Coin,
        }
    }
}

/// The classifier's image-level scores on a split.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClassifierReport {
    pub n: usize,
    /// Mean binary cross-entropy of the probabilities (clamped to [1e-7, 1 − 1e-7]).
    pub loss: f64,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub roc_auc: Option<f64>,
    pub counts: BinaryCounts,
}

impl ClassifierReport {
    /// "accuracy A, F1 F, AUC U" for a progress line.
    pub fn headline(&self) -> String {
        format!(
            "accuracy {:.3}, F1 {:.3}, AUC {}",
            self.accuracy,
            self.f1,
            self.roc_auc.map_or("n/a".into(), |v| format!("{v:.3}"))
        )
    }

    fn from(scores: &[f64], labels: &[u8]) -> ClassifierReport {
        let c = BinaryCounts::from_scores(scores, labels, 0.5);
        let bce = |p: f64, y: u8| {
            let p = p.clamp(1e-7, 1.0 - 1e-7);
            -(if y == 1 { p.ln() } else { (1.0 - p).ln() })
        };
        let loss = scores
            .iter()
            .zip(labels)
            .map(|(&p, &y)| bce(p, y))
            .sum::<f64>()
            / scores.len().max(1) as f64;
        ClassifierReport {
            n: scores.len(),
            loss,
            accuracy: c.accuracy(),
            precision: c.precision(),
            recall: c.recall(),
            f1: c.f1(),
            roc_auc: roc_auc(scores, labels),
            counts: c,
        }
    }
}

/// COIN's scores on a split.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CoinReport {
    pub slices: usize,
    pub abnormal_slices: usize,
    /// Abnormal slices with a ground-truth tumour mask: what IoU, Dice and the ceiling pool
    /// (0: they are not computable, and reported as 0).
    pub masked_slices: usize,
    /// Pooled IoU and Dice of `|x − x_cf| > threshold` on ground-truth-abnormal slices.
    pub iou: f64,
    pub dice: f64,
    pub confusion: Confusion,
    /// The same with the clean slice in place of `x_cf` (a perfect inpainter).
    pub ceiling_iou: Option<f64>,
    /// Among slices with p(x) > τ (the Singla et al. protocol: among every slice it keeps),
    /// the fraction with |p(x) − p(x_cf)| > τ.
    pub validity: Option<f64>,
    /// The fraction of all slices the classifier calls normal after inpainting.
    pub flip_rate: f64,
    /// The fraction of pixels changed (above the threshold) on ground-truth-normal slices.
    pub changed_pixels_normal: f64,
    /// The same on abnormal slices (by their image-level labels: no masks read).
    pub changed_pixels_abnormal: f64,
    /// The fraction of abnormal slices the classifier calls normal after inpainting.
    pub flip_rate_abnormal: f64,
    /// Model selection without pixel labels ([`label_free_score`]).
    pub label_free_score: f64,
    pub classifier: ClassifierReport,
    /// `confusion` patient by patient (sources that name their slices' patients), and the 90 %
    /// interval of `iou` over patients ([`patient_interval`]; None under two patients).
    pub patients: Vec<PatientConfusion>,
    pub iou_patients_90: Option<(f64, f64)>,
    #[serde(skip)]
    pub panels: Vec<Panel>,
}

impl CoinReport {
    /// `" (N patients, 90 %: lo–hi)"` after an IoU, or nothing without an interval.
    pub fn patients_note(&self) -> String {
        self.iou_patients_90.map_or(String::new(), |(lo, hi)| {
            format!(" ({} patients, 90 %: {lo:.3}–{hi:.3})", self.patients.len())
        })
    }
}

/// The fraction of abnormal validation slices a counterfactual must heal (the classifier calls
/// them normal after inpainting) for [`label_free_score`] to rank it by its false positives.
pub const LABEL_FREE_FLIP_GATE: f64 = 0.9;

/// A model's score from image-level labels alone (higher is better). A model that heals at
/// least [`LABEL_FREE_FLIP_GATE`] of the abnormal slices and marks more of their pixels than of
/// normal slices' is ranked by the fraction of pixels it marks on normal slices — false
/// positives, since a normal slice has no tumour — fewest first: `2 − c_normal` in (1, 2].
/// Any other model scores the fraction of abnormal slices it heals, in [0, 1]. (c: the fraction
/// of pixels above the threshold.) A generator that changes nothing heals nothing; one that
/// changes everything marks normal slices as much as abnormal ones.
pub fn label_free_score(flip_abnormal: f64, changed_abnormal: f64, changed_normal: f64) -> f64 {
    if flip_abnormal >= LABEL_FREE_FLIP_GATE && changed_abnormal > changed_normal {
        2.0 - changed_normal
    } else {
        flip_abnormal
    }
}

/// The classifier's probabilities p(abnormal) for a batch, in evaluation mode, without a tape.
pub fn probabilities(f: &ResNet18, x: &Tensor) -> Result<Vec<f64>> {
    no_grad(|| ops::sigmoid(&f.forward(x, &Ctx::eval())?))?.try_to_vec_f64()
}

/// The classifier on every sample of `loader`'s epoch 0.
pub fn evaluate_classifier(f: &ResNet18, loader: &Loader) -> Result<ClassifierReport> {
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    for b in loader.epoch(0) {
        let b = b?;
        scores.extend(probabilities(f, &b.images)?);
        labels.extend(b.labels.try_to_vec_f64()?.iter().map(|&l| (l > 0.5) as u8));
    }
    Ok(ClassifierReport::from(&scores, &labels))
}

/// One ground-truth-abnormal slice as evaluated: input, counterfactual, clean slice (synthetic
/// data), ground truth, and the classifier's probabilities before and after.
#[derive(Clone, Debug)]
pub struct EvalSlice {
    /// The sample's index in the split.
    pub index: usize,
    pub rows: usize,
    pub cols: usize,
    pub x: Vec<f32>,
    pub x_cf: Vec<f32>,
    pub clean: Option<Vec<f32>>,
    pub truth: Vec<u8>,
    pub p: f64,
    pub p_cf: f64,
}

/// COIN (and the classifier) on every sample of `loader`'s epoch 0. The ground-truth mask is
/// each sample's tumour mask ([`TUMOUR_MASK`]: the synthetic tumour, or the tumour for real
/// data); abnormal slices without one (slice labels over organ-only label maps) count in
/// everything but IoU, Dice and the ceiling.
pub fn evaluate_coin(
    nets: &CoinNets,
    f: &ResNet18,
    loader: &Loader,
    cfg: &EvalCfg,
) -> Result<CoinReport> {
    Ok(evaluate(nets, f, loader, cfg, false)?.0)
}

/// [`evaluate_coin`], keeping every ground-truth-abnormal slice for further analysis (the
/// same pass, so the same numbers: spectral norm's `u` moves with every forward).
pub fn evaluate_coin_keeping_slices(
    nets: &CoinNets,
    f: &ResNet18,
    loader: &Loader,
    cfg: &EvalCfg,
) -> Result<(CoinReport, Vec<EvalSlice>)> {
    evaluate(nets, f, loader, cfg, true)
}

fn evaluate(
    nets: &CoinNets,
    f: &ResNet18,
    loader: &Loader,
    cfg: &EvalCfg,
    keep: bool,
) -> Result<(CoinReport, Vec<EvalSlice>)> {
    let mut t = Tally::default();
    for b in loader.epoch(0) {
        let b = b?;
        let (n, _, rows, cols) = b.images.shape().dims4("evaluate")?;
        let (x_cf, p) = match cfg.protocol {
            Protocol::Coin => (
                no_grad(|| counterfactual(nets, &b.images))?,
                probabilities(f, &b.images)?,
            ),
            Protocol::Singla => {
                let (x_cf, post) = no_grad(|| counterfactual_as_trained(nets, f, &b.images))?;
                (x_cf, post.p.try_to_vec_f64()?)
            }
        };
        let p_cf = probabilities(f, &x_cf)?;
        let xv = b.images.try_to_vec_f32()?;
        let cv = x_cf.try_to_vec_f32()?;
        let clean = b.clean.as_ref().map(|c| c.try_to_vec_f32()).transpose()?;
        let lab = b.labels.try_to_vec_f64()?;
        let hw = rows * cols;
        for i in 0..n {
            let patient = loader.patient(b.indices[i]);
            let at = i * hw..(i + 1) * hw;
            let truth = b.masks[i]
                .get(TUMOUR_MASK)
                .map(|m| m.as_slice())
                .unwrap_or(&[]);
            let view = SliceView {
                index: b.indices[i],
                rows,
                cols,
                x: &xv[at.clone()],
                x_cf: &cv[at.clone()],
                clean: clean.as_ref().map(|c| &c[at.clone()]),
                truth,
                abnormal: lab[i] > 0.5,
                patient,
                p: p[i],
                p_cf: p_cf[i],
            };
            t.add(view, cfg, keep)?;
        }
    }
    Ok(t.finish())
}

/// One slice of a batch as the evaluation sees it.
struct SliceView<'a> {
    index: usize,
    rows: usize,
    cols: usize,
    x: &'a [f32],
    x_cf: &'a [f32],
    clean: Option<&'a [f32]>,
    /// The last mask of the sample (empty when it has none).
    truth: &'a [u8],
    abnormal: bool,
    /// The slice's patient, when its source names it.
    patient: Option<String>,
    p: f64,
    p_cf: f64,
}

/// The running sums of one evaluation pass.
#[derive(Default)]
struct Tally {
    r: CoinReport,
    kept: Vec<EvalSlice>,
    ceiling: Confusion,
    no_ceiling: bool,
    scores: Vec<f64>,
    labels: Vec<u8>,
    confident: usize,
    valid: usize,
    flipped: usize,
    flipped_abnormal: usize,
    normal_px: u64,
    normal_changed: u64,
    abnormal_px: u64,
    abnormal_changed: u64,
    /// Per patient: masked slices and their pooled counts.
    patients: BTreeMap<String, (usize, Confusion)>,
}

impl Tally {
    fn add(&mut self, s: SliceView, cfg: &EvalCfg, keep: bool) -> Result<()> {
        let (r, hw) = (&mut self.r, s.rows * s.cols);
        let (lo, hi) = SINGLA_KEEP;
        let counted = match cfg.protocol {
            Protocol::Coin => s.p > cfg.validity_tau,
            Protocol::Singla if s.p < lo || s.p > hi => true,
            Protocol::Singla => return Ok(()),
        };
        let pred: Vec<bool> = mask_of(s.x, s.x_cf, cfg.threshold).collect();
        let changed = pred.iter().filter(|&&c| c).count() as u64;
        r.slices += 1;
        self.scores.push(s.p);
        self.labels.push(s.abnormal as u8);
        if counted {
            self.confident += 1;
            self.valid += ((s.p - s.p_cf).abs() > cfg.validity_tau) as usize;
        }
        self.flipped += (s.p_cf < 0.5) as usize;
        if !s.abnormal {
            self.normal_px += hw as u64;
            self.normal_changed += changed;
            return Ok(());
        }
        r.abnormal_slices += 1;
        self.flipped_abnormal += (s.p_cf < 0.5) as usize;
        self.abnormal_px += hw as u64;
        self.abnormal_changed += changed;
        if s.truth.is_empty() {
            return Ok(()); // no tumour mask: nothing to score it against
        }
        if s.truth.len() != hw {
            return Err(crate::Error::Shape(format!(
                "evaluate: sample {} has no {}×{} ground-truth mask",
                s.index, s.rows, s.cols
            )));
        }
        r.masked_slices += 1;
        let mut slice = Confusion::default();
        slice.add(pred.into_iter(), s.truth.iter().map(|&t| t > 0));
        r.confusion.merge(&slice);
        if let Some(name) = s.patient {
            let one = self.patients.entry(name).or_default();
            one.0 += 1;
            one.1.merge(&slice);
        }
        match s.clean {
            Some(cl) => self.ceiling.add(
                mask_of(s.x, cl, cfg.threshold),
                s.truth.iter().map(|&t| t > 0),
            ),
            None => self.no_ceiling = true,
        }
        if keep {
            self.kept.push(EvalSlice {
                index: s.index,
                rows: s.rows,
                cols: s.cols,
                x: s.x.to_vec(),
                x_cf: s.x_cf.to_vec(),
                clean: s.clean.map(|c| c.to_vec()),
                truth: s.truth.to_vec(),
                p: s.p,
                p_cf: s.p_cf,
            });
        }
        if r.panels.len() < cfg.keep_samples {
            r.panels.push(Panel {
                rows: s.rows,
                cols: s.cols,
                x: s.x.to_vec(),
                x_cf: s.x_cf.to_vec(),
                truth: s.truth.to_vec(),
            });
        }
        Ok(())
    }

    fn finish(self) -> (CoinReport, Vec<EvalSlice>) {
        let mut r = self.r;
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        r.iou = r.confusion.iou();
        r.dice = r.confusion.dice();
        r.ceiling_iou = (!self.no_ceiling && r.masked_slices > 0).then(|| self.ceiling.iou());
        r.validity = (self.confident > 0).then(|| self.valid as f64 / self.confident as f64);
        r.flip_rate = ratio(self.flipped as f64, r.slices as f64);
        r.changed_pixels_normal = ratio(self.normal_changed as f64, self.normal_px as f64);
        r.changed_pixels_abnormal = ratio(self.abnormal_changed as f64, self.abnormal_px as f64);
        r.flip_rate_abnormal = ratio(self.flipped_abnormal as f64, r.abnormal_slices as f64);
        r.label_free_score = label_free_score(
            r.flip_rate_abnormal,
            r.changed_pixels_abnormal,
            r.changed_pixels_normal,
        );
        r.classifier = ClassifierReport::from(&self.scores, &self.labels);
        r.patients = (self.patients.into_iter())
            .map(|(patient, (slices, confusion))| PatientConfusion {
                patient,
                slices,
                confusion,
            })
            .collect();
        r.iou_patients_90 = patient_interval(&r.patients);
        (r, self.kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_free_score_gates_on_healing_then_ranks_false_positives() {
        // Heals 95 %, marks abnormal slices more than normal ones: ranked by normal changes.
        let good = label_free_score(0.95, 0.004, 0.001);
        let noisier = label_free_score(1.0, 0.004, 0.003);
        assert!(good > noisier && noisier > 1.0);
        // Heals too few, or marks normal slices as much as abnormal ones: below every ranked one.
        assert_eq!(label_free_score(0.5, 0.004, 0.001), 0.5);
        assert_eq!(label_free_score(1.0, 0.01, 0.02), 1.0);
        assert_eq!(label_free_score(0.0, 0.0, 0.0), 0.0);
    }
}
