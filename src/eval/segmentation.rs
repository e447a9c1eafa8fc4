//! Running the frozen classifier and the counterfactual generator over a split and scoring them.

use super::difference::mask_of;
use super::metrics::{roc_auc, BinaryCounts, Confusion};
use crate::data::loader::Loader;
use crate::io::figures::Panel;
use crate::models::counterfactual;
use crate::models::{CoinNets, ResNet18};
use crate::nn::Ctx;
use crate::{no_grad, ops, Result, Tensor};
use serde::Serialize;

/// The segmentation rule and the validity threshold.
#[derive(Clone, Copy, Debug)]
pub struct EvalCfg {
    /// `|x − x_cf|` in [0, 1] units above this is tumour (0.25 in the paper).
    pub threshold: f64,
    /// Counterfactual validity counts slices with p(x) above this (0.8).
    pub validity_tau: f64,
    /// How many abnormal slices to keep as sample panels.
    pub keep_samples: usize,
}

impl Default for EvalCfg {
    fn default() -> Self {
        EvalCfg {
            threshold: 0.25,
            validity_tau: 0.8,
            keep_samples: 4,
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
    /// Pooled IoU and Dice of `|x − x_cf| > threshold` on ground-truth-abnormal slices.
    pub iou: f64,
    pub dice: f64,
    pub confusion: Confusion,
    /// The same with the clean slice in place of `x_cf` (a perfect inpainter).
    pub ceiling_iou: Option<f64>,
    /// Among slices with p(x) > τ, the fraction with |p(x) − p(x_cf)| > τ.
    pub validity: Option<f64>,
    /// The fraction of all slices the classifier calls normal after inpainting.
    pub flip_rate: f64,
    /// The fraction of pixels changed (above the threshold) on ground-truth-normal slices.
    pub changed_pixels_normal: f64,
    pub classifier: ClassifierReport,
    #[serde(skip)]
    pub panels: Vec<Panel>,
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
/// each sample's last mask (the synthetic tumour, or the tumour for real data).
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
    let mut kept = Vec::new();
    let mut r = CoinReport::default();
    let (mut ceiling, mut has_ceiling) = (Confusion::default(), true);
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    let (mut confident, mut valid, mut flipped) = (0usize, 0usize, 0usize);
    let (mut normal_px, mut normal_changed) = (0u64, 0u64);
    for b in loader.epoch(0) {
        let b = b?;
        let (n, _, rows, cols) = b.images.shape().dims4("evaluate")?;
        let x_cf = no_grad(|| counterfactual(nets, &b.images))?;
        let p = probabilities(f, &b.images)?;
        let p_cf = probabilities(f, &x_cf)?;
        let xv = b.images.try_to_vec_f32()?;
        let cv = x_cf.try_to_vec_f32()?;
        let clean = b.clean.as_ref().map(|c| c.try_to_vec_f32()).transpose()?;
        let lab = b.labels.try_to_vec_f64()?;
        let hw = rows * cols;
        for i in 0..n {
            let (xs, cs) = (&xv[i * hw..(i + 1) * hw], &cv[i * hw..(i + 1) * hw]);
            let pred = mask_of(xs, cs, cfg.threshold);
            let abnormal = lab[i] > 0.5;
            r.slices += 1;
            scores.push(p[i]);
            labels.push(abnormal as u8);
            if p[i] > cfg.validity_tau {
                confident += 1;
                valid += ((p[i] - p_cf[i]).abs() > cfg.validity_tau) as usize;
            }
            flipped += (p_cf[i] < 0.5) as usize;
            if abnormal {
                r.abnormal_slices += 1;
                let truth = b.masks[i].last().map(|m| m.as_slice()).unwrap_or(&[]);
                if truth.len() != hw {
                    return Err(crate::Error::Shape(format!(
                        "evaluate: sample {} has no {rows}×{cols} ground-truth mask",
                        b.indices[i]
                    )));
                }
                r.confusion.add(pred, truth.iter().map(|&t| t > 0));
                match &clean {
                    Some(cl) => ceiling.add(
                        mask_of(xs, &cl[i * hw..(i + 1) * hw], cfg.threshold),
                        truth.iter().map(|&t| t > 0),
                    ),
                    None => has_ceiling = false,
                }
                if keep {
                    kept.push(EvalSlice {
                        index: b.indices[i],
                        rows,
                        cols,
                        x: xs.to_vec(),
                        x_cf: cs.to_vec(),
                        clean: clean.as_ref().map(|cl| cl[i * hw..(i + 1) * hw].to_vec()),
                        truth: truth.to_vec(),
                        p: p[i],
                        p_cf: p_cf[i],
                    });
                }
                if r.panels.len() < cfg.keep_samples {
                    r.panels.push(Panel {
                        rows,
                        cols,
                        x: xs.to_vec(),
                        x_cf: cs.to_vec(),
                        truth: truth.to_vec(),
                    });
                }
            } else {
                normal_px += hw as u64;
                normal_changed += pred.filter(|&c| c).count() as u64;
            }
        }
    }
    r.iou = r.confusion.iou();
    r.dice = r.confusion.dice();
    r.ceiling_iou = (has_ceiling && r.abnormal_slices > 0).then(|| ceiling.iou());
    r.validity = (confident > 0).then(|| valid as f64 / confident as f64);
    r.flip_rate = if r.slices > 0 {
        flipped as f64 / r.slices as f64
    } else {
        0.0
    };
    r.changed_pixels_normal = if normal_px > 0 {
        normal_changed as f64 / normal_px as f64
    } else {
        0.0
    };
    r.classifier = ClassifierReport::from(&scores, &labels);
    Ok((r, kept))
}
