//! A run's folder: `config.toml` (the resolved configuration), `log.jsonl` (one JSON object per
//! logged step, evaluation and checkpoint), `checkpoints/`, `best/` (the best-validation COIN
//! model, with `coin.select = "best-val-iou"`), `classifier.safetensors` (the chosen
//! classifier), `samples/` (panels), `loss.svg`, `summary.json`.

mod trained;

pub use trained::{checkpoint_arg, TrainedModel};

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
            for sub in ["checkpoints", "samples", "best"] {
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
    /// The best-validation model (`coin.select = "best-val-iou"`): a checkpoint folder of its own
    /// with its `latest`.
    pub fn best(&self) -> PathBuf {
        self.path.join("best")
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
