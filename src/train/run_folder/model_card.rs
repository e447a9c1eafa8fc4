//! The model card a bundle carries (Markdown): what the model is, what it was trained on, its
//! scores with the data they were measured on, its intended use and its known limits.

use super::TrainedModel;
use crate::data::DataSource;

fn number(s: Option<&serde_json::Value>, key: &str) -> String {
    s.and_then(|s| s.get(key))
        .and_then(|v| v.as_f64())
        .map_or("not computed".into(), |v| format!("{v:.3}"))
}

/// What the model was trained on, in words.
fn training_data(model: &TrainedModel, data: &DataSource) -> String {
    let c = &model.config;
    if model.data.root.is_none() {
        return format!(
            "the built-in procedural abdominal CT phantom ({} training and {} test patients, seed {}), synthetic tumours inserted in the kidneys",
            c.data.phantom_train, c.data.phantom_test, c.seed
        );
    }
    format!(
        "scans in the {:?} layout, kidney label ids {:?}; slice labels: {}",
        data.layout,
        data.labels.kidney,
        if model.data.labels_csv.is_some() {
            "a CSV of image-level labels".to_string()
        } else {
            format!("{:?} task", c.data.task)
        }
    )
}

/// The card of `model`, from its run's portable summary and data description.
pub fn model_card(
    model: &TrainedModel,
    summary: Option<&serde_json::Value>,
    data: &DataSource,
) -> String {
    let c = &model.config;
    let p = &model.prep;
    let phantom = model.data.root.is_none();
    let trained_on = training_data(model, data);
    let method = c.coin.method.label();
    let mut card = format!(
        "# COIN model card\n\n\
         **Model.** {method} (counterfactual inpainting: a generator heals abnormal slices until a \
         frozen classifier calls them normal; the mask is where it changed the slice by more than \
         {thr} in [0, 1] units). Preset `{name}`, encoder and generator at width ×{w}, {size}² \
         slices, ResNet-18 classifier of base width {base}; counterfactual step {step}{avg}.\n\n\
         **Training data.** {trained_on}.\n\n\
         **Preprocessing.** Axial slices along voxel axis {axis} with more than the kidney \
         filter's organ pixels (label ids {kid:?}), window [{lo:.0}, {hi:.0}] HU, resized to \
         {size}².\n\n",
        thr = c.eval.threshold,
        name = c.name,
        w = c.coin.width,
        size = p.size,
        base = c.classifier.base,
        step = model.step,
        avg = if model.averaged {
            " (moving average of the weights)"
        } else {
            ""
        },
        axis = p.axis,
        kid = p.kidney_labels,
        lo = p.window_hu[0],
        hi = p.window_hu[1],
    );
    card += &format!(
        "**Scores** on the run's own test split ({}): IoU {}, Dice {}, counterfactual validity {}, \
         classifier accuracy {}; selected by `{}`.\n\n",
        if phantom { "phantom patients it never trained on" } else { "held-out scans of the same data" },
        number(summary, "test_iou"),
        number(summary, "test_dice"),
        number(summary, "counterfactual_validity"),
        number(summary, "classifier_accuracy"),
        summary
            .and_then(|s| s.get("coin_select"))
            .and_then(|v| v.as_str())
            .unwrap_or("last"),
    );
    card += "**Intended use.** Research on weakly supervised tumour segmentation. It is not a \
             medical device, and its masks are not for clinical decisions.\n\n\
             **Known limits.** ";
    if phantom {
        card += "A model trained on the built-in phantom does not transfer to real CT: train on \
                 your own scans for real use. ";
    }
    card += "Scores hold for data like the training data; other scanners, contrast phases, \
             slice thicknesses or organs than the training data's are untested. The model saw \
             only organ slices in training: segment with an organ mask (`segment --organ-mask`).\n\n";
    card += &format!(
        "**Software.** coin-rs {}{}.\n",
        crate::host::version(),
        crate::host::commit().map_or(String::new(), |c| format!(", commit {c}"))
    );
    card
}
