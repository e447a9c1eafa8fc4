//! Evaluation: segmentation from counterfactuals (`|x − x_cf|` in [0, 1] units above a
//! threshold, coin-method.md §5.1) and the metrics — the paper's pooled (micro) IoU and Dice
//! over ground-truth-abnormal slices, counterfactual validity, the classifier's accuracy,
//! precision, recall, F1 and ROC AUC, the changed-pixel fraction on normal slices and the
//! perfect-inpainter ceiling.

mod metrics;
mod segmentation;

pub use metrics::{roc_auc, BinaryCounts, Confusion};
pub use segmentation::{
    evaluate_classifier, evaluate_coin, ClassifierReport, CoinReport, EvalCfg, Panel,
};
