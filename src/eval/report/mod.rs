//! The paper's comparison on one run's test slices: COIN (plain and post-processed), the
//! perfect-inpainter ceiling, and the attribution baselines on the same frozen classifier and
//! exactly the same ground-truth-abnormal slices, each scored as the paper does (pooled IoU and
//! Dice), with per-image IoUs and a threshold sweep.

mod procedure;

pub use procedure::{run, EvalOptions, Report, Scored};

use super::difference::{difference, mask};
use super::metrics::Confusion;
use super::morphology::postprocess;
use super::segmentation::EvalSlice;
use crate::attribution::{layer_cam, score_cam, Rise, RiseCfg};
use crate::models::ResNet18;
use crate::{Device, Result, Tensor};
use serde::Serialize;
use std::time::Instant;

/// An attribution baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    Rise,
    LayerCam,
    ScoreCam,
}

impl Baseline {
    pub fn name(self) -> &'static str {
        match self {
            Baseline::Rise => "RISE",
            Baseline::LayerCam => "LayerCAM",
            Baseline::ScoreCam => "ScoreCAM",
        }
    }
    pub fn parse(s: &str) -> Option<Baseline> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rise" => Some(Baseline::Rise),
            "layercam" | "layer_cam" => Some(Baseline::LayerCam),
            "scorecam" | "score_cam" => Some(Baseline::ScoreCam),
            _ => None,
        }
    }
}

/// What a row is: counterfactual inpainting (COIN), a counterfactual explanation (Singla et
/// al.), the perfect-inpainter ceiling, or an attribution baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MethodKind {
    Counterfactual,
    Explanation,
    Ceiling,
    Attribution,
}

impl MethodKind {
    /// The row kind of a trained model's method.
    pub fn of(method: crate::models::Method) -> MethodKind {
        match method {
            crate::models::Method::Coin => MethodKind::Counterfactual,
            crate::models::Method::Singla => MethodKind::Explanation,
        }
    }
    /// A row scored from a generator's counterfactuals.
    pub fn is_generated(self) -> bool {
        matches!(self, MethodKind::Counterfactual | MethodKind::Explanation)
    }
}

/// How a method's maps become masks: `map > threshold`, optionally post-processed (§5.1), and
/// the thresholds of its sweep.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub threshold: f64,
    pub postprocess: bool,
    pub sweep: &'static [f64],
}

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct MethodResult {
    pub method: String,
    pub kind: MethodKind,
    /// Pooled (micro) IoU and Dice over the ground-truth-abnormal slices.
    pub iou: f64,
    pub dice: f64,
    /// The pixel counts IoU and Dice pool (reports of disjoint slices add up).
    pub confusion: Confusion,
    /// Mean and median of the per-image IoUs (slices where prediction or truth is non-empty).
    pub per_image_iou_mean: f64,
    pub per_image_iou_median: f64,
    /// Counterfactual validity (COIN only).
    pub validity: Option<f64>,
    pub seconds: f64,
    /// The threshold on the method's map (COIN: |x − x_cf| in [0, 1]; baselines: normalised
    /// saliency).
    pub threshold: f64,
    pub slices: usize,
    /// Method settings (e.g. RISE's mask count).
    pub settings: serde_json::Value,
    /// (threshold, pooled IoU).
    pub sweep: Vec<(f64, f64)>,
    #[serde(skip)]
    pub per_image_iou: Vec<f64>,
    /// The method's maps, one per slice (for the panels).
    #[serde(skip)]
    pub maps: Vec<Vec<f32>>,
}

/// Pooled confusion and per-image IoUs of `map > threshold` (optionally post-processed).
fn score(
    maps: &[Vec<f32>],
    slices: &[EvalSlice],
    threshold: f32,
    post: bool,
) -> (Confusion, Vec<f64>) {
    let mut pooled = Confusion::default();
    let mut per_image = Vec::new();
    for (m, s) in maps.iter().zip(slices) {
        let mut pred = mask(m, threshold as f64);
        if post {
            pred = postprocess(&pred, s.rows, s.cols);
        }
        let mut c = Confusion::default();
        c.add(pred.iter().copied(), s.truth.iter().map(|&t| t > 0));
        if c.tp + c.fp + c.fn_ > 0 {
            per_image.push(c.iou());
        }
        pooled.add(pred.into_iter(), s.truth.iter().map(|&t| t > 0));
    }
    (pooled, per_image)
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Scores `maps` into a row under `rule`, with its sweep.
fn result(
    (method, kind): (&str, MethodKind),
    maps: Vec<Vec<f32>>,
    slices: &[EvalSlice],
    rule: Rule,
    seconds: f64,
    settings: serde_json::Value,
) -> MethodResult {
    let (c, per_image) = score(&maps, slices, rule.threshold as f32, rule.postprocess);
    let sweep = rule
        .sweep
        .iter()
        .map(|&t| (t, score(&maps, slices, t as f32, rule.postprocess).0.iou()))
        .collect();
    MethodResult {
        method: method.to_string(),
        kind,
        iou: c.iou(),
        dice: c.dice(),
        confusion: c,
        // `+ 0.0`: an empty sum is −0.0.
        per_image_iou_mean: per_image.iter().sum::<f64>() / per_image.len().max(1) as f64 + 0.0,
        per_image_iou_median: median(&per_image),
        validity: None,
        seconds,
        threshold: rule.threshold,
        slices: slices.len(),
        settings,
        sweep,
        per_image_iou: per_image,
        maps,
    }
}

/// Thresholds swept for COIN's difference map and for the baselines' normalised saliency.
pub const COIN_SWEEP: [f64; 10] = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5];
pub const SALIENCY_SWEEP: [f64; 8] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99];

/// A generator's rows (COIN's or Singla et al.'s, `kind`): plain (the run's threshold),
/// post-processed (§5.1) and the perfect-inpainter ceiling (the clean slice in place of
/// `x_cf`, synthetic data only).
pub fn coin_rows(
    (label, kind): (&str, MethodKind),
    slices: &[EvalSlice],
    threshold: f64,
    validity: Option<f64>,
    seconds: f64,
) -> Vec<MethodResult> {
    let diff = |other: &dyn Fn(&EvalSlice) -> Option<&Vec<f32>>| -> Option<Vec<Vec<f32>>> {
        slices
            .iter()
            .map(|s| other(s).map(|o| difference(&s.x, o)))
            .collect()
    };
    let rule = Rule {
        threshold,
        postprocess: false,
        sweep: &COIN_SWEEP,
    };
    let maps = diff(&|s| Some(&s.x_cf)).expect("every slice has a counterfactual");
    let mut plain = result(
        (label, kind),
        maps.clone(),
        slices,
        rule,
        seconds,
        serde_json::json!({}),
    );
    plain.validity = validity;
    let mut post = result(
        (&format!("{label} + post-processing"), kind),
        maps,
        slices,
        Rule {
            postprocess: true,
            ..rule
        },
        seconds,
        serde_json::json!({"postprocess": "3x3 opening, 3x3 closing, largest 8-connected component"}),
    );
    post.validity = validity;
    let mut rows = vec![plain, post];
    if let Some(maps) = diff(&|s| s.clean.as_ref()).filter(|_| !slices.is_empty()) {
        rows.push(result(
            ("perfect inpainter (ceiling)", MethodKind::Ceiling),
            maps,
            slices,
            rule,
            0.0,
            serde_json::json!({"counterfactual": "the clean slice before the synthetic tumour"}),
        ));
    }
    rows
}

/// `slices` as `[N, 1, rows, cols]` batches of `batch` slices, built as they are consumed.
fn batches(
    slices: &[EvalSlice],
    batch: usize,
    device: Device,
) -> impl Iterator<Item = Result<Tensor>> + '_ {
    slices.chunks(batch.max(1)).map(move |ch| {
        let (r, c) = (ch[0].rows, ch[0].cols);
        let data: Vec<f32> = ch.iter().flat_map(|s| s.x.iter().copied()).collect();
        Tensor::from_f32(data, [ch.len(), 1, r, c], device)
    })
}

/// One baseline on every slice, scored at `threshold` (0.975 in the paper).
pub fn baseline_row(
    b: Baseline,
    f: &ResNet18,
    slices: &[EvalSlice],
    threshold: f64,
    rise: RiseCfg,
    device: Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<MethodResult> {
    let t = Instant::now();
    let mut maps = Vec::with_capacity(slices.len());
    let (per_batch, settings) = match b {
        Baseline::LayerCam => (16, serde_json::json!({"layer": "layer4"})),
        Baseline::ScoreCam => (1, serde_json::json!({"layer": "layer4"})),
        Baseline::Rise => (1, serde_json::to_value(rise).unwrap_or_default()),
    };
    let rise_masks = match (b, slices.first()) {
        (Baseline::Rise, Some(s)) => Some(Rise::new(rise, s.rows, s.cols)?),
        _ => None,
    };
    for x in batches(slices, per_batch, device) {
        let x = x?;
        maps.extend(match b {
            Baseline::LayerCam => layer_cam(f, &x)?,
            Baseline::ScoreCam => score_cam(f, &x, 32)?,
            Baseline::Rise => rise_masks.as_ref().expect("built above").saliency(f, &x)?,
        });
        progress(maps.len(), slices.len());
    }
    let seconds = t.elapsed().as_secs_f64();
    let rule = Rule {
        threshold,
        postprocess: false,
        sweep: &SALIENCY_SWEEP,
    };
    Ok(result(
        (b.name(), MethodKind::Attribution),
        maps,
        slices,
        rule,
        seconds,
        settings,
    ))
}
