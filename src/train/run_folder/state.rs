//! The run state every checkpoint carries (`<checkpoint>/state.json`), typed: a format
//! version, what the run was made with (its configuration, the preprocessing of its inputs, its
//! data source) and the phase it stands in, each stage with its own state. Written by the
//! training driver and stages through [`super::RunDir::checkpoint`], read by `--resume` and by
//! [`super::TrainedModel`]. Checkpoints written before the format was versioned (format 1:
//! the same fields, the stage's state under `classifier` or `coin` beside a `stage` key) are read
//! and converted; a newer format is refused with both numbers.

use crate::data::{DataSource, Preprocessing};
use crate::train::classifier_stage::ClassifierState;
use crate::train::coin_stage::CoinState;
use crate::train::RunConfig;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The format this build writes (and the newest it reads).
pub const RUN_STATE_FORMAT: u32 = 2;

/// What a run was made with: the same in every checkpoint of the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub config: RunConfig,
    pub preprocessing: Preprocessing,
    pub data: DataSource,
}

/// Where a run stands: the stage a resume continues and that stage's own state.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "lowercase")]
pub enum Phase {
    Classifier(ClassifierState),
    Counterfactual(CoinState),
}

/// One checkpoint's `state.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState {
    pub format: u32,
    #[serde(flatten)]
    pub record: RunRecord,
    pub phase: Phase,
}

impl RunRecord {
    /// The state of a checkpoint taken in `phase`.
    pub fn state(&self, phase: Phase) -> RunState {
        RunState {
            format: RUN_STATE_FORMAT,
            record: self.clone(),
            phase,
        }
    }
}

impl Phase {
    /// The stage's name, as checkpoints and messages spell it.
    pub fn stage(&self) -> &'static str {
        match self {
            Phase::Classifier(_) => "classifier",
            Phase::Counterfactual(_) => "counterfactual",
        }
    }
}

impl RunState {
    /// The state of checkpoint folder `folder`.
    pub fn read(folder: &Path) -> Result<RunState> {
        let path = folder.join("state.json");
        let text = std::fs::read(&path).map_err(|e| {
            Error::Invalid(format!(
                "{}: {e}: not a checkpoint folder of `train`",
                path.display()
            ))
        })?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| Error::Format(format!("{}: {e}", path.display())))?;
        RunState::from_json(value).map_err(|e| Error::Format(format!("{}: {e}", path.display())))
    }

    /// A parsed `state.json` of any format this build reads.
    pub fn from_json(value: serde_json::Value) -> std::result::Result<RunState, String> {
        match value.get("format").map(|f| f.as_u64()) {
            None => from_format_1(value),
            Some(Some(f)) if f <= RUN_STATE_FORMAT as u64 => {
                serde_json::from_value(value).map_err(|e| e.to_string())
            }
            Some(f) => Err(format!(
                "run state format {} is newer than this build reads ({RUN_STATE_FORMAT}): open it \
                 with the coin-rs version that wrote it, or a newer one",
                f.map_or("(not a number)".to_string(), |f| f.to_string())
            )),
        }
    }

    /// The counterfactual stage's step, or 0 before it.
    pub fn coin_step(&self) -> u64 {
        match &self.phase {
            Phase::Counterfactual(s) => s.step,
            Phase::Classifier(_) => 0,
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    key: &str,
    x: serde_json::Value,
) -> std::result::Result<T, String> {
    serde_json::from_value(x).map_err(|e| format!("'{key}': {e}"))
}

/// Format 1: `{"stage", "config", "preprocessing", "data" (absent: the phantom), "classifier" |
/// "coin"}`.
fn from_format_1(v: serde_json::Value) -> std::result::Result<RunState, String> {
    let field = |k: &str| -> std::result::Result<serde_json::Value, String> {
        v.get(k)
            .cloned()
            .ok_or_else(|| format!("no '{k}' (not a run state)"))
    };
    let phase = match v.get("stage").and_then(|s| s.as_str()) {
        Some("classifier") => Phase::Classifier(parse("classifier", field("classifier")?)?),
        Some("counterfactual") => Phase::Counterfactual(parse("coin", field("coin")?)?),
        other => return Err(format!("unknown stage {other:?}")),
    };
    let data = match v.get("data") {
        Some(d) if !d.is_null() => parse("data", d.clone())?,
        _ => DataSource::phantom(),
    };
    Ok(RunState {
        format: 1,
        record: RunRecord {
            config: parse("config", field("config")?)?,
            preprocessing: parse("preprocessing", field("preprocessing")?)?,
            data,
        },
        phase,
    })
}
