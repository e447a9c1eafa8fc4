//! What both training stages share: their inputs (configuration, run folder, device, training
//! and validation splits), their loaders, and how a training error names its stage and step.
//! The classifier stage and the counterfactual stage are `impl` blocks on [`Stage`] in their own
//! files.

use super::preset::RunConfig;
use super::run_folder::{Phase, RunDir, RunRecord};
use crate::data::dataset::SliceDataset;
use crate::data::loader::{Loader, LoaderConfig};
use crate::{Device, Error, Result};
use std::sync::Arc;

pub struct Stage<'a> {
    /// The run's configuration, preprocessing and data: what every checkpoint records besides
    /// the stage's state.
    pub record: &'a RunRecord,
    pub run: &'a RunDir,
    pub device: Device,
    pub train: Arc<SliceDataset>,
    pub val: Arc<SliceDataset>,
    /// The selections the counterfactual stage keeps, the one choosing the model first
    /// ([`super::CoinSelect::tracked`]).
    pub selections: Vec<super::CoinSelect>,
}

impl Stage<'_> {
    /// The run's configuration.
    pub fn cfg(&self) -> &RunConfig {
        &self.record.config
    }

    /// Writes a checkpoint of `groups` (and the averaged networks, when kept) taken in `phase`
    /// into `into`, keeping the newest `keep`.
    pub(super) fn checkpoint(
        &self,
        into: &std::path::Path,
        name: &str,
        groups: &[(&crate::nn::ParamGroup, Option<&crate::optim::Adam>)],
        averaged: Option<&super::AveragedNets>,
        phase: Phase,
        keep: usize,
    ) -> Result<()> {
        let state = self.record.state(phase);
        self.run
            .checkpoint(into, name, groups, averaged, &state, keep)
            .map(|_| ())
    }
}

pub(super) fn loader(
    src: Arc<SliceDataset>,
    batch: usize,
    seed: u64,
    balanced: bool,
    drop_last: bool,
    cfg: &RunConfig,
    device: Device,
) -> Result<Loader> {
    Loader::new(
        src,
        LoaderConfig {
            batch,
            seed,
            balanced,
            drop_last,
            workers: cfg.data.workers.max(1),
            prefetch: 4,
            device,
        },
    )
}

/// How a stage batches its training split.
pub(super) struct LoaderSpec<'a> {
    pub batch: usize,
    pub salt: u64,
    pub balanced: bool,
    pub what: &'a str,
}

/// A stage's training loader (whole batches only), its validation loader and the batches per
/// epoch; an error when the training split cannot fill one batch.
pub(super) fn stage_loaders(
    cfg: &RunConfig,
    data: [&Arc<SliceDataset>; 2],
    spec: LoaderSpec,
    device: Device,
) -> Result<(Loader, Loader, u64)> {
    let [train, val] = data;
    let batch = spec.batch;
    let per_epoch = (train.len() / batch) as u64;
    if per_epoch == 0 {
        return Err(Error::Invalid(format!(
            "the training split has {} slices, fewer than one {} batch of {batch}",
            train.len(),
            spec.what
        )));
    }
    let t = loader(
        train.clone(),
        batch,
        cfg.seed ^ spec.salt,
        spec.balanced,
        true,
        cfg,
        device,
    )?;
    let v = loader(val.clone(), 32, 0, false, false, cfg, device)?;
    Ok((t, v, per_epoch))
}

/// Names the stage and step in a training error.
pub(super) fn at_step(e: Error, stage: &str, step: u64) -> Error {
    match e {
        Error::NonFinite(m) => Error::NonFinite(format!(
            "{stage} step {}: {m}; training stopped, the last checkpoint is kept",
            step + 1
        )),
        other => other,
    }
}
