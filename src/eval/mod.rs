//! Evaluation: segmentation from counterfactuals (`|x − x_cf|` in [0, 1] units above a
//! threshold, docs/method.md) and the metrics — the paper's pooled (micro) IoU and Dice
//! over ground-truth-abnormal slices, counterfactual validity, the classifier's accuracy,
//! precision, recall, F1 and ROC AUC, the changed-pixel fraction on normal slices and the
//! perfect-inpainter ceiling, each split's IoU patient by patient with a 90 % interval
//! (`patients`). Whole volumes segmented on their own grid by a model's networks
//! (`volume`), and the paper's mask post-processing (`morphology`).

mod difference;
mod metrics;
pub mod morphology;
mod patients;
pub mod report;
pub mod report_page;
mod segmentation;
pub mod sidecar;
mod volume;

pub use difference::{difference, mask, mask_of};
pub use metrics::{roc_auc, BinaryCounts, Confusion};
pub use patients::{patient_interval, PatientConfusion};
pub use segmentation::{
    evaluate_classifier, evaluate_coin, evaluate_coin_keeping_slices, label_free_score,
    probabilities, ClassifierReport, CoinReport, EvalCfg, Protocol, LABEL_FREE_FLIP_GATE,
};
pub use volume::{
    check_organ_mask, run_batch, segment_volume, ModelView, Networks, OrganMask, SegmentOptions,
    SliceRecord, VolumeSegmentation,
};
