//! A run's folder, written and read here: `config.toml` (the resolved configuration), `log.jsonl` (one JSON object per
//! logged step, evaluation and checkpoint), `checkpoints/`, `best/` (the best-validation COIN
//! model, with `coin.select = "best-val-iou"`), `classifier.safetensors` (the chosen
//! classifier), `samples/` (panels), `loss.svg`, `summary.json`.

mod bundle;
mod curves;
mod model_card;
mod state;
mod summary;
mod trained;

pub use bundle::{bundle_card, export_bundle, is_bundle, open_bundle, BUNDLE_FORMAT};
pub use state::{Phase, RunRecord, RunState, RUN_STATE_FORMAT};
pub use summary::{Outcome, Seconds, SelectionResult, StageRecord, Summary};
pub use trained::{checkpoint_arg, load_model_nets, selection_checkpoint, TrainedModel};

use super::averaged::{AveragedNets, AVERAGED_FILE};
use crate::io::checkpoint::{load_checkpoint, save_checkpoint};
use crate::nn::ParamGroup;
use crate::optim::Adam;
use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct RunDir {
    pub path: PathBuf,
    log: Mutex<std::fs::File>,
}

impl RunDir {
    /// Opens `path` for a new run (it must be absent or empty unless `force`) or, with
    /// `resume`, an existing one.
    pub fn open(path: &Path, resume: bool, force: bool) -> Result<RunDir> {
        let non_empty = path.is_dir() && std::fs::read_dir(path)?.next().is_some();
        if non_empty && !resume && !force {
            return Err(Error::Invalid(format!(
                "{} is not empty: pass --resume to continue that run or --force to start over in it",
                path.display()
            )));
        }
        if resume && !path.join("checkpoints").join("latest").is_file() {
            return Err(Error::Invalid(format!(
                "--resume: {} holds no checkpoint",
                path.display()
            )));
        }
        if force && !resume && non_empty {
            for sub in ["checkpoints", "samples", "best", "best-label-free"] {
                let _ = std::fs::remove_dir_all(path.join(sub));
            }
            for f in [
                "log.jsonl",
                "summary.json",
                "classifier.safetensors",
                "loss.svg",
                "val_iou.svg",
                "config.toml",
            ] {
                let _ = std::fs::remove_file(path.join(f));
            }
        }
        std::fs::create_dir_all(path.join("samples"))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path.join("log.jsonl"))?;
        Ok(RunDir {
            path: path.to_path_buf(),
            log: Mutex::new(log),
        })
    }
    pub fn checkpoints(&self) -> PathBuf {
        self.path.join("checkpoints")
    }
    /// Writes checkpoint `name` of `groups` (with their optimizers' moments), the averaged
    /// networks' E+G when the run keeps an average, and `state` into `into`
    /// ([`checkpoints`](Self::checkpoints) or [`best`](Self::best)), keeping the newest `keep`
    /// there.
    pub fn checkpoint(
        &self,
        into: &Path,
        name: &str,
        groups: &[(&ParamGroup, Option<&Adam>)],
        averaged: Option<&AveragedNets>,
        state: &RunState,
        keep: usize,
    ) -> Result<PathBuf> {
        let value = serde_json::to_value(state).map_err(|e| Error::Format(e.to_string()))?;
        let extra: Vec<(&str, &ParamGroup)> = averaged
            .map(|a| (AVERAGED_FILE, &a.nets.eg))
            .into_iter()
            .collect();
        save_checkpoint(into, name, groups, &extra, &value, keep)
    }

    /// Loads checkpoint folder `folder` into `groups` (and their optimizers) and returns its
    /// state.
    pub fn restore(
        folder: &Path,
        groups: &mut [(&ParamGroup, Option<&mut Adam>)],
    ) -> Result<RunState> {
        let state = load_checkpoint(folder, groups)?;
        RunState::from_json(state)
            .map_err(|e| Error::Format(format!("{}: {e}", folder.join("state.json").display())))
    }

    /// Appends one JSON line (flushed, so a killed run keeps what it logged).
    pub fn log(&self, v: serde_json::Value) -> Result<()> {
        let mut f = self.log.lock().expect("log lock");
        writeln!(f, "{v}")?;
        f.flush()?;
        Ok(())
    }
    /// Every logged line (unparseable lines, e.g. one cut by a kill, are skipped).
    pub fn read_log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path.join("log.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// `runs/<name>-<YYYYMMDDTHHMMSSZ>`: a new run's folder when none is given.
pub fn default_run_folder(name: &str) -> PathBuf {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from(format!("runs/{name}-{}", utc_stamp(t)))
}

/// `YYYYMMDDTHHMMSSZ` for seconds since the epoch.
fn utc_stamp(t: u64) -> String {
    let (days, rem) = (t / 86400, t % 86400);
    let (y, m, d) = civil(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian (year, month, day) of day `z` since 1970-01-01.
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps_are_calendar_dates() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400 + 3_661), "20000229T010101Z");
        assert_eq!(utc_stamp(1_796_515_200), "20261206T000000Z");
    }
}
