//! A trained run, opened for inference: the counterfactual networks from a checkpoint of the
//! counterfactual stage (E+G from its moving average when the run kept one), the frozen classifier the run used, and the configuration and
//! preprocessing recorded beside them (`segment` and `evaluate` start here). `eval` takes the
//! networks and the preprocessing ([`TrainedModel::networks`]), never the run.

use super::{RunRecord, RunState};
use crate::data::{DataSource, Preprocessing};
use crate::eval::Networks;
use crate::io::load_groups;
use crate::models::{Classifier, CoinNets};
use crate::train::{CoinSelect, RunConfig};
use crate::{Device, Error, Result};
use std::path::{Path, PathBuf};

/// A run's trained model and what it was trained with.
pub struct TrainedModel {
    pub nets: CoinNets,
    pub classifier: Classifier,
    pub config: RunConfig,
    pub prep: Preprocessing,
    /// The data the run trained on.
    pub data: DataSource,
    /// The run folder; the checkpoint folder the networks came from and its counterfactual step.
    pub run: PathBuf,
    pub checkpoint: PathBuf,
    pub step: u64,
    /// The E+G are the run's moving average (`coin.ema_decay > 0`), not the last step's.
    pub averaged: bool,
    /// Opened from a model bundle (`export`): no discriminator, no paths of the training data.
    pub bundle: bool,
}

fn not_trained(run: &Path, why: impl std::fmt::Display) -> Error {
    Error::Invalid(format!(
        "{} holds no trained COIN model: {why} (train one with `cargo run --release --bin train -- --out {}`)",
        run.display(),
        run.display()
    ))
}

/// The `--checkpoint` argument of `segment` and `evaluate`: `final` (the model `train` ended
/// with: its selection's checkpoint when it selected one, else the latest) → `None`, `last`
/// → the run's latest checkpoint, anything else → that folder or weights file.
pub fn checkpoint_arg(run: &Path, arg: &str) -> Result<Option<PathBuf>> {
    if super::is_bundle(run) && arg != "final" {
        return Err(bundle_holds_one_model(run, arg));
    }
    match arg {
        "final" => Ok(None),
        "last" => latest(run).map(Some),
        p => Ok(Some(PathBuf::from(p))),
    }
}

/// `--checkpoint` other than `final` on a bundle.
fn bundle_holds_one_model(bundle: &Path, checkpoint: impl std::fmt::Display) -> Error {
    Error::Invalid(format!(
        "--checkpoint {checkpoint}: {} is a model bundle, which holds one model",
        bundle.display()
    ))
}

/// The run's latest checkpoint folder.
fn latest(run: &Path) -> Result<PathBuf> {
    crate::io::checkpoint::latest_checkpoint(&run.join("checkpoints"))?
        .ok_or_else(|| not_trained(run, "it has no checkpoints/latest"))
}

/// The checkpoint folder `checkpoint` names: `None` for the run's final model (its
/// selection's folder when it kept one, else its latest), else a checkpoint folder or the
/// `weights.safetensors` inside one.
fn checkpoint_folder(run: &Path, checkpoint: Option<&Path>) -> Result<PathBuf> {
    match checkpoint {
        Some(p) if p.is_dir() => Ok(p.to_path_buf()),
        Some(p) if p.is_file() => Ok(p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()),
        Some(p) => Err(Error::Invalid(format!(
            "--checkpoint {}: no such file or folder",
            p.display()
        ))),
        None => {
            if !run.is_dir() {
                return Err(Error::Invalid(format!(
                    "--model {}: no such folder (give a run folder written by `train`)",
                    run.display()
                )));
            }
            // The selection the run was configured with (its latest checkpoint says), when
            // that selection kept a model.
            let last = latest(run)?;
            let state = RunState::read(&last)?;
            let select = match &state.phase {
                super::Phase::Counterfactual(s) => s.select,
                _ => None,
            }
            .unwrap_or(state.record.config.coin.select);
            Ok(selection_checkpoint(run, select).unwrap_or(last))
        }
    }
}

/// Loads checkpoint folder `folder`'s model into `nets`: E+G and D from its weights, then E+G
/// from its moving average when it holds one (returns whether it did).
pub fn load_model_nets(folder: &Path, nets: &CoinNets) -> Result<bool> {
    load_groups(&folder.join("weights.safetensors"), &[&nets.eg, &nets.d])?;
    let averaged_file = folder.join(crate::train::AVERAGED_FILE);
    let averaged = averaged_file.is_file();
    if averaged {
        load_groups(&averaged_file, &[&nets.eg])?;
    }
    Ok(averaged)
}

/// The latest checkpoint of selection `select`'s folder in run `run` (`best/`,
/// `best-label-free/`; the run's latest checkpoint for `last`).
pub fn selection_checkpoint(run: &Path, select: CoinSelect) -> Result<PathBuf> {
    let Some(sub) = select.folder() else {
        return latest(run);
    };
    crate::io::checkpoint::latest_checkpoint(&run.join(sub))?.ok_or_else(|| {
        Error::Format(format!(
            "{}: no checkpoint of selection {}",
            run.join(sub).display(),
            select.name()
        ))
    })
}

impl TrainedModel {
    /// The files its weights came from (a bundle; or the checkpoint's weights, its moving
    /// average and the classifier): what a mask's sidecar checksums.
    pub fn model_files(&self) -> Vec<PathBuf> {
        if self.bundle {
            return vec![self.checkpoint.clone()];
        }
        let mut files = vec![self.checkpoint.join("weights.safetensors")];
        if self.averaged {
            files.push(self.checkpoint.join(crate::train::AVERAGED_FILE));
        }
        files.push(self.run.join("classifier.safetensors"));
        files
    }

    /// What segmentation needs: the networks and the preprocessing of their inputs.
    pub fn networks(&self) -> Networks<'_> {
        Networks {
            nets: &self.nets,
            classifier: &self.classifier.net,
            prep: &self.prep,
        }
    }

    /// Opens run folder `run` at its final model, or at `checkpoint` (a checkpoint folder or
    /// its `weights.safetensors`), with the networks on `device`; `run` may also be a model
    /// bundle written by `export`.
    pub fn open(run: &Path, checkpoint: Option<&Path>, device: Device) -> Result<TrainedModel> {
        if super::is_bundle(run) {
            if let Some(c) = checkpoint {
                return Err(bundle_holds_one_model(run, c.display()));
            }
            return super::open_bundle(run, device);
        }
        let folder = checkpoint_folder(run, checkpoint)?;
        let state = RunState::read(&folder)?;
        let step = state.coin_step();
        if step == 0 {
            let stage = state.phase.stage();
            return Err(not_trained(
                run,
                format!(
                    "checkpoint {} is from before the counterfactual stage's first step (stage '{stage}', step {step})",
                    folder.display()
                ),
            ));
        }
        let RunRecord {
            config,
            preprocessing: prep,
            data,
        } = state.record;
        let (nets, classifier) = crate::train::pipeline::untrained_networks(&config, device)?;
        let averaged = load_model_nets(&folder, &nets)?;
        let cpath = run.join("classifier.safetensors");
        if !cpath.is_file() {
            return Err(not_trained(run, "classifier.safetensors is missing"));
        }
        load_groups(&cpath, &[&classifier.group])?;
        Ok(TrainedModel {
            nets,
            classifier,
            config,
            prep,
            data,
            run: run.to_path_buf(),
            checkpoint: folder,
            step,
            averaged,
            bundle: false,
        })
    }
}
