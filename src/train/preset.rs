//! Run configurations: the named presets (`presets/*.toml`, documented field by field there)
//! or a user's TOML file with the same fields. Unknown keys are errors.

use super::config::StepCfg;
use crate::models::{Dataset, Method, OutputHead};
use crate::ops::Precision;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The presets shipped with the binary: (name, TOML text).
pub const PRESETS: [(&str, &str); 8] = [
    (
        "cpu-default",
        include_str!("../../presets/cpu-default.toml"),
    ),
    ("cpu-anchor", include_str!("../../presets/cpu-anchor.toml")),
    ("smoke", include_str!("../../presets/smoke.toml")),
    (
        "paper-synthetic",
        include_str!("../../presets/paper-synthetic.toml"),
    ),
    ("paper-tuh", include_str!("../../presets/paper-tuh.toml")),
    ("gpu-check", include_str!("../../presets/gpu-check.toml")),
    ("cpu-singla", include_str!("../../presets/cpu-singla.toml")),
    (
        "paper-singla",
        include_str!("../../presets/paper-singla.toml"),
    ),
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub name: String,
    pub seed: u64,
    /// The whole run's wall-clock budget in seconds (0: none): the counterfactual stage gets
    /// what the data and the classifier leave, less a reserve for the test evaluation, up to
    /// `coin.budget_s` when that is set.
    #[serde(default)]
    pub total_budget_s: f64,
    pub data: DataCfg,
    pub classifier: ClassifierCfg,
    pub coin: CoinCfg,
    pub eval: EvalSection,
    /// How GPU devices multiply in convolutions and matrix products.
    #[serde(default)]
    pub precision: PrecisionSection,
}

/// The GPU precision of a run (`ops::precision`); the CPU devices always compute in FP32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrecisionSection {
    /// Convolutions: "tf32" (PyTorch's default on a GPU), "3xtf32" or "fp32".
    #[serde(default = "tf32")]
    pub conv: Precision,
    /// Matrix products (`linear`): "fp32" (PyTorch's default), "tf32" or "3xtf32".
    #[serde(default)]
    pub linear: Precision,
}

fn one() -> u64 {
    1
}

fn tf32() -> Precision {
    Precision::Tf32
}

impl Default for PrecisionSection {
    fn default() -> Self {
        PrecisionSection {
            conv: Precision::Tf32,
            linear: Precision::Fp32,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// The paper's synthetic tumours in the kidneys.
    Synthetic,
    /// Real tumour labels: a slice is abnormal with more than `real_threshold` tumour pixels.
    Real,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCfg {
    pub size: usize,
    pub task: TaskKind,
    pub real_threshold: usize,
    pub phantom_train: u64,
    pub phantom_test: u64,
    pub phantom_slices: usize,
    pub val_fraction: f64,
    /// A fixed HU window `[lo, hi]`; empty: the fingerprint of the training split.
    pub window: Vec<f32>,
    pub workers: usize,
    /// Draws the test split's fixed synthetic tumours as a run seeded with this draws them
    /// (unset: the run's own `seed`). `evaluate --tumour-seed` sets it, to score one model
    /// under other tumour draws on the same patients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_tumour_seed: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierCfg {
    pub base: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub augment: bool,
    pub balanced: bool,
    pub budget_s: f64,
    pub max_steps: u64,
    pub eval_every: u64,
    pub warn_below_accuracy: f64,
    /// Ends the stage at the first evaluation whose validation accuracy reaches this, and
    /// chooses that checkpoint (0: off — the lowest validation loss within the budget).
    #[serde(default)]
    pub stop_at_accuracy: f64,
    /// How many evaluations in a row must reach `stop_at_accuracy` to end the stage (the last
    /// of them is chosen); 1: the first that reaches it.
    #[serde(default = "one")]
    pub stop_consecutive: u64,
    /// Before each validation, batch norm's running statistics are recomputed under the
    /// current weights from this many fixed training batches (0: off, the running averages as
    /// training left them).
    #[serde(default)]
    pub calibrate_bn_batches: usize,
    /// Also keeps every validation's weights and state, never pruned, in the run's
    /// `classifier-validations/` (for replaying stopping rules; off: the newest two
    /// checkpoints only).
    #[serde(default)]
    pub keep_validations: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoinCfg {
    /// "coin" (counterfactual inpainting) or "singla" (Singla et al.'s counterfactual
    /// explanation, the paper's baseline).
    #[serde(default)]
    pub method: Method,
    /// The generator's output: "skip-add-tanh" (`tanh(r + x)`, COIN) or "tanh" (`tanh(r)`).
    #[serde(default)]
    pub head: OutputHead,
    pub dataset: Dataset,
    pub width: f64,
    pub batch: usize,
    pub budget_s: f64,
    pub max_steps: u64,
    pub eval_every: u64,
    pub checkpoint_every: u64,
    pub keep_checkpoints: usize,
    /// Also keeps every validation's E+G and D and state, never pruned, in the run's
    /// `coin-validations/` (for replaying selection rules: `scripts/coin_replay.py`; off: the
    /// newest checkpoints and each selection's best only).
    #[serde(default)]
    pub keep_validations: bool,
    /// Which model the run ends with: the last step's, or the one with the best validation IoU.
    #[serde(default)]
    pub select: CoinSelect,
    /// The decay of the moving average of E+G that the run validates, selects, tests and
    /// saves as its model (`src/train/averaged.rs`); 0: off, the live networks.
    #[serde(default)]
    pub ema_decay: f64,
    /// Multiplies the generator's last convolution's initial weight and bias (1: the authors'
    /// init; 0: the generator starts at `x_cf = tanh(x)`, which marks no pixel).
    #[serde(default = "crate::models::authors_head_init_scale")]
    pub head_init_scale: f64,
    pub step: StepCfg,
}

/// The counterfactual stage's final model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoinSelect {
    /// The last step's networks (the authors' code restores its latest checkpoint).
    #[default]
    Last,
    /// The networks at the validation with the highest IoU, kept in `best/` of the run folder.
    /// On the synthetic task the validation masks are the inserted tumours, so this needs no
    /// pixel labels; on the real-tumour task it reads the validation patients' tumour labels.
    BestValIou,
    /// The networks at the validation with the highest label-free score
    /// ([`crate::eval::label_free_score`]: at least 90 % of the abnormal slices healed, then
    /// the fewest pixels marked on normal slices), kept in `best-label-free/`: needs only the
    /// validation slices' image-level labels.
    LabelFree,
}

impl CoinSelect {
    /// The selections a run configured with `select` keeps, the one that chooses its model
    /// first: its own and, for comparison, the other. Without tumour masks in the validation
    /// split there is no validation IoU, so the label-free selection alone (also in place of
    /// `best-val-iou`).
    pub fn tracked(self, masks: bool) -> Vec<CoinSelect> {
        use CoinSelect::*;
        match (self, masks) {
            (Last, _) => vec![],
            (BestValIou, true) => vec![BestValIou, LabelFree],
            (LabelFree, true) => vec![LabelFree, BestValIou],
            (_, false) => vec![LabelFree],
        }
    }
    /// The run folder's sub-folder that holds this selection's model (None: the latest
    /// checkpoint).
    pub fn folder(self) -> Option<&'static str> {
        match self {
            CoinSelect::Last => None,
            CoinSelect::BestValIou => Some("best"),
            CoinSelect::LabelFree => Some("best-label-free"),
        }
    }
    /// The name in configurations and logs.
    pub fn name(self) -> &'static str {
        match self {
            CoinSelect::Last => "last",
            CoinSelect::BestValIou => "best-val-iou",
            CoinSelect::LabelFree => "label-free",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    pub threshold: f64,
    pub validity_tau: f64,
    pub samples: usize,
    /// The attribution baselines' threshold on min–max normalised saliency (the paper's 0.975).
    #[serde(default = "paper_saliency_threshold")]
    pub saliency_threshold: f64,
}

fn paper_saliency_threshold() -> f64 {
    0.975
}

/// The TOML text of preset `name`; an error listing the presets.
fn preset_text(name: &str) -> Result<&'static str> {
    let found = PRESETS.iter().find(|(n, _)| *n == name);
    found.map(|p| p.1).ok_or_else(|| {
        let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
        Error::Invalid(format!(
            "unknown preset '{name}' (presets: {})",
            names.join(", ")
        ))
    })
}

/// The TOML text of `text` with its `extends` chain applied (None when it extends nothing).
fn resolve_extends(text: &str, what: &str, depth: usize) -> Result<Option<String>> {
    let mut overlay: toml::Table =
        toml::from_str(text).map_err(|e| Error::Format(format!("{what}: {e}")))?;
    let base = match overlay.remove("extends") {
        None => return Ok(None),
        Some(toml::Value::String(name)) => name,
        Some(v) => {
            return Err(Error::Invalid(format!(
                "{what}: extends must be a preset's name, got {v}"
            )))
        }
    };
    let base_text =
        preset_text(&base).map_err(|e| Error::Invalid(format!("{what}: extends: {e}")))?;
    if depth > 4 {
        return Err(Error::Invalid(format!("{what}: extends chains too deep")));
    }
    let base_what = format!("preset {base}");
    let base_text =
        resolve_extends(base_text, &base_what, depth + 1)?.unwrap_or_else(|| base_text.to_string());
    let mut merged: toml::Table =
        toml::from_str(&base_text).map_err(|e| Error::Format(format!("{base_what}: {e}")))?;
    merge(&mut merged, overlay);
    toml::to_string(&merged)
        .map(Some)
        .map_err(|e| Error::Format(format!("{what}: {e}")))
}

/// `overlay`'s keys over `base`'s, tables merged key by key.
fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

impl RunConfig {
    /// The evaluation rule this configuration trains and scores with, keeping `samples`
    /// abnormal slices as panels.
    pub fn eval_cfg(&self, samples: usize) -> crate::eval::EvalCfg {
        crate::eval::EvalCfg {
            threshold: self.eval.threshold,
            validity_tau: self.eval.validity_tau,
            keep_samples: samples,
            protocol: Default::default(),
        }
    }

    /// Sets this thread's GPU precision to the configuration's (`ops::set_gpu_precision`).
    pub fn apply_precision(&self) {
        crate::ops::set_gpu_precision(self.precision.conv, self.precision.linear);
    }

    pub fn preset(name: &str) -> Result<RunConfig> {
        Self::parse(preset_text(name)?, &format!("preset {name}"))
    }
    pub fn from_file(path: &std::path::Path) -> Result<RunConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", path.display()),
            ))
        })?;
        Self::parse(&text, &path.display().to_string())
    }
    /// A configuration from TOML `text`. A top-level `extends = "PRESET"` starts from that
    /// preset and replaces only the keys `text` sets (tables merge key by key), so a variant
    /// such as `cpu-singla` follows its base when the base is re-tuned.
    pub fn parse(text: &str, what: &str) -> Result<RunConfig> {
        let merged = resolve_extends(text, what, 0)?;
        let text = match &merged {
            Some(t) => t.as_str(),
            None => text,
        };
        let c: RunConfig =
            toml::from_str(text).map_err(|e| Error::Format(format!("{what}: {e}")))?;
        c.validate()
            .map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
        Ok(c)
    }
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a config serialises")
    }
    fn validate(&self) -> std::result::Result<(), String> {
        let d = &self.data;
        if d.size == 0 || !d.size.is_multiple_of(32) {
            return Err(format!("data.size must be a positive multiple of 32 (the encoder halves it five times), got {}", d.size));
        }
        if !(0.0..0.9).contains(&d.val_fraction) {
            return Err(format!(
                "data.val_fraction must be in [0, 0.9), got {}",
                d.val_fraction
            ));
        }
        if !(d.window.is_empty() || d.window.len() == 2 && d.window[0] < d.window[1]) {
            return Err(format!(
                "data.window must be empty or [lo, hi] with lo < hi, got {:?}",
                d.window
            ));
        }
        let c = &self.classifier;
        if c.batch < 2 || self.coin.batch < 2 {
            return Err(
                "batch sizes must be at least 2 (batch norm needs more than one sample)".into(),
            );
        }
        if c.budget_s <= 0.0 && c.max_steps == 0
            || self.coin.budget_s <= 0.0 && self.coin.max_steps == 0 && self.total_budget_s <= 0.0
        {
            return Err(
                "each stage needs a time budget (budget_s > 0) or a step count (max_steps > 0)"
                    .into(),
            );
        }
        if c.eval_every == 0 || self.coin.eval_every == 0 || self.coin.checkpoint_every == 0 {
            return Err("eval_every and checkpoint_every must be positive".into());
        }
        if !(0.0..=1.0).contains(&c.stop_at_accuracy) {
            return Err(format!(
                "classifier.stop_at_accuracy must be in [0, 1] (0: off), got {}",
                c.stop_at_accuracy
            ));
        }
        if self.coin.select != CoinSelect::Last && d.val_fraction <= 0.0 {
            return Err(format!(
                "coin.select = \"{}\" needs a validation split (data.val_fraction > 0)",
                self.coin.select.name()
            ));
        }
        if !(0.0..1.0).contains(&self.coin.ema_decay) {
            return Err(format!(
                "coin.ema_decay must be in [0, 1) (0: off), got {}",
                self.coin.ema_decay
            ));
        }
        if !(self.coin.head_init_scale.is_finite() && self.coin.head_init_scale >= 0.0) {
            return Err(format!(
                "coin.head_init_scale must be a finite factor ≥ 0 (1: the authors' init), got {}",
                self.coin.head_init_scale
            ));
        }
        if self.coin.width <= 0.0 || c.base == 0 {
            return Err("widths must be positive".into());
        }
        Ok(())
    }
}
