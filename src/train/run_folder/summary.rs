//! A run's `summary.json`, typed: the test split's numbers, the classifier's, the seconds of
//! each stage, and what produced them (configuration, device, host, data).

use crate::data::{Fingerprint, Preprocessing};
use crate::eval::report::MethodResult;
use crate::eval::{ClassifierReport, CoinReport, PatientConfusion};
use crate::train::coin_stage::CoinState;
use crate::train::{CoinSelect, RunConfig};
use crate::{host, Device};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Seconds of this session's stages (a stage that did not run is left out).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Seconds {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classifier: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterfactual: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layercam: Option<f64>,
    pub total_this_session: f64,
}

/// What another run's `summary.json` says of its counterfactual stage: its seconds and steps
/// (read for `train --stage counterfactual --classifier RUN`).
#[derive(Clone, Debug, Deserialize)]
pub struct StageRecord {
    pub seconds: Seconds,
    #[serde(default)]
    pub coin_steps: Option<u64>,
}

impl StageRecord {
    /// The record in `run`'s `summary.json`; None when it has none or it does not parse.
    pub fn of(run: &std::path::Path) -> Option<StageRecord> {
        let text = std::fs::read_to_string(run.join("summary.json")).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// What the stages produced.
#[derive(Default)]
pub struct Outcome {
    pub seconds: Seconds,
    pub classifier_val: Option<ClassifierReport>,
    /// The classifier on the test split when no COIN test ran (a classifier-only run).
    pub classifier_test: Option<ClassifierReport>,
    pub test: Option<CoinReport>,
    pub layercam: Option<MethodResult>,
    pub coin: Option<CoinState>,
    pub selections: Vec<SelectionResult>,
}

/// One selection's model scored on the test split (the run's own first).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SelectionResult {
    pub select: CoinSelect,
    pub step: u64,
    /// None without tumour masks in the test split.
    pub test_iou: Option<f64>,
    pub test_dice: Option<f64>,
    pub validity: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub test_iou: Option<f64>,
    /// The 90 % interval of `test_iou` over patients ([`crate::eval::patient_interval`]; None
    /// under two test patients).
    pub test_iou_patients_90: Option<(f64, f64)>,
    /// The test split's pixel counts patient by patient (they add up to the pooled ones).
    pub test_patients: Vec<PatientConfusion>,
    pub test_dice: Option<f64>,
    pub counterfactual_validity: Option<f64>,
    pub flip_rate: Option<f64>,
    pub classifier_accuracy: Option<f64>,
    pub classifier_test: Option<ClassifierReport>,
    pub classifier_validation: Option<ClassifierReport>,
    pub ceiling_iou: Option<f64>,
    pub changed_pixels_normal: Option<f64>,
    pub test_slices: Option<usize>,
    pub test_abnormal_slices: Option<usize>,
    pub layercam_iou: Option<f64>,
    pub layercam_dice: Option<f64>,
    pub threshold: f64,
    pub saliency_threshold: f64,
    pub seconds: Seconds,
    pub coin_steps: Option<u64>,
    pub coin_select: CoinSelect,
    /// The counterfactual step whose model the test scored.
    pub coin_chosen_step: Option<u64>,
    /// Each selection the run kept, scored on the test split (its own first).
    #[serde(default)]
    pub selections: Vec<SelectionResult>,
    pub preset: String,
    pub device: String,
    pub cpu: String,
    pub simd: String,
    pub threads: usize,
    pub version: String,
    pub git_commit: Option<String>,
    pub data_root: PathBuf,
    pub window_hu: [f32; 2],
    pub fingerprint: Option<Fingerprint>,
    pub size: usize,
    /// The patients carved from the training split to validate on (empty: the test split
    /// validated).
    pub validation_patients: Vec<String>,
}

impl Summary {
    /// `val_patients`: the patients the run carved from its training split to validate on.
    pub fn new(
        cfg: &RunConfig,
        device: Device,
        prep: &Preprocessing,
        val_patients: &[String],
        out: Outcome,
    ) -> Summary {
        let Outcome {
            seconds,
            classifier_val,
            classifier_test,
            test,
            layercam,
            coin,
            selections,
        } = out;
        let t = test.as_ref();
        // IoU and Dice need tumour masks in the test split.
        let masked = t.filter(|r| r.masked_slices > 0);
        let classifier_test = t.map(|r| r.classifier.clone()).or(classifier_test);
        Summary {
            test_iou: masked.map(|r| r.iou),
            test_iou_patients_90: masked.and_then(|r| r.iou_patients_90),
            test_patients: masked.map(|r| r.patients.clone()).unwrap_or_default(),
            test_dice: masked.map(|r| r.dice),
            counterfactual_validity: t.and_then(|r| r.validity),
            flip_rate: t.map(|r| r.flip_rate),
            classifier_accuracy: classifier_test.as_ref().map(|r| r.accuracy),
            classifier_test,
            classifier_validation: classifier_val,
            ceiling_iou: t.and_then(|r| r.ceiling_iou),
            changed_pixels_normal: t.map(|r| r.changed_pixels_normal),
            test_slices: t.map(|r| r.slices),
            test_abnormal_slices: t.map(|r| r.abnormal_slices),
            layercam_iou: layercam
                .as_ref()
                .filter(|_| masked.is_some())
                .map(|r| r.iou),
            layercam_dice: layercam
                .as_ref()
                .filter(|_| masked.is_some())
                .map(|r| r.dice),
            threshold: cfg.eval.threshold,
            saliency_threshold: cfg.eval.saliency_threshold,
            seconds,
            coin_steps: coin.as_ref().map(|c| c.step),
            // The selection that chose (label-free in place of best-val-iou without masks).
            coin_select: coin
                .as_ref()
                .and_then(|c| c.select)
                .unwrap_or(cfg.coin.select),
            coin_chosen_step: coin
                .as_ref()
                .map(|c| c.select.and_then(|s| c.best(s)).map_or(c.step, |b| b.1)),
            selections,
            preset: cfg.name.clone(),
            device: device.to_string(),
            cpu: host::cpu_model(),
            simd: host::simd_path().to_string(),
            threads: host::threads(),
            version: host::version().to_string(),
            git_commit: host::commit(),
            data_root: prep.data_root.clone(),
            window_hu: prep.window_hu,
            fingerprint: prep.fingerprint.clone(),
            size: cfg.data.size,
            validation_patients: val_patients.to_vec(),
        }
    }
}

impl std::fmt::Display for Summary {
    /// The lines `train` ends with.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.4}"));
        writeln!(
            f,
            "test IoU {} | Dice {} | perfect-inpainter ceiling IoU {}",
            v(self.test_iou),
            v(self.test_dice),
            v(self.ceiling_iou)
        )?;
        writeln!(
            f,
            "counterfactual validity {} | classifier test accuracy {} | changed pixels on normal slices {}",
            v(self.counterfactual_validity),
            v(self.classifier_accuracy),
            v(self.changed_pixels_normal)
        )?;
        write!(
            f,
            "seconds {} | {} | simd {} | {} threads | commit {}",
            serde_json::to_string(&self.seconds).unwrap_or_default(),
            self.cpu,
            self.simd,
            self.threads,
            self.git_commit.as_deref().unwrap_or("?")
        )
    }
}
