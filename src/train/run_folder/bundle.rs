//! A model bundle (`export --model RUN --out MODEL.coin`): what `segment` needs from a run in
//! one safetensors file — the encoder and generator (the moving average when the run kept one),
//! the classifier, under the authors' names — with JSON metadata: the format version, the
//! software version and commit, the configuration, the preprocessing, the label ids and layout
//! of the training data (no paths of the training machine), the run's summary and a model
//! card in Markdown. The discriminator and the optimizer moments stay in the run folder.

use super::TrainedModel;
use crate::data::{DataSource, Preprocessing};
use crate::io::{load_tensors_with_metadata, save_tensors_with_metadata};
use crate::nn::{load_named, named_tensors};
use crate::train::RunConfig;
use crate::{host, Device, Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The bundle format this build writes and reads.
pub const BUNDLE_FORMAT: u32 = 1;
const FORMAT_KEY: &str = "coin_bundle_format";

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::Format(e.to_string()))
}

fn field<T: serde::de::DeserializeOwned>(
    meta: &HashMap<String, String>,
    key: &str,
    path: &Path,
) -> Result<T> {
    let text = meta
        .get(key)
        .ok_or_else(|| Error::Format(format!("{}: the bundle has no {key}", path.display())))?;
    serde_json::from_str(text).map_err(|e| Error::Format(format!("{}: {key}: {e}", path.display())))
}

/// `source` without the training machine's paths: the layout and label ids only.
fn portable(source: &DataSource) -> DataSource {
    DataSource {
        root: None,
        labels_dir: None,
        labels_csv: None,
        splits: None,
        ..source.clone()
    }
}

/// The run's `summary.json` without the training machine's paths (None when it has none).
fn portable_summary(run: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("summary.json")).ok()?;
    let mut s: serde_json::Value = serde_json::from_str(&text).ok()?;
    s.as_object_mut()?.remove("data_root");
    Some(s)
}

/// Writes `model` (opened from run folder `model.run`) as a bundle at `out`; returns its
/// size in bytes.
pub fn export_bundle(model: &TrainedModel, out: &Path) -> Result<u64> {
    let summary = portable_summary(&model.run);
    let prep = Preprocessing {
        data_root: PathBuf::new(),
        ..model.prep.clone()
    };
    let data = portable(&model.data);
    let mut meta = HashMap::new();
    meta.insert(FORMAT_KEY.into(), BUNDLE_FORMAT.to_string());
    meta.insert("software_version".into(), json(&host::version())?);
    meta.insert("git_commit".into(), json(&host::commit())?);
    meta.insert("config".into(), json(&model.config)?);
    meta.insert("preprocessing".into(), json(&prep)?);
    meta.insert("data".into(), json(&data)?);
    meta.insert("step".into(), json(&model.step)?);
    meta.insert("averaged".into(), json(&model.averaged)?);
    meta.insert("summary".into(), json(&summary)?);
    let card = super::model_card::model_card(model, summary.as_ref(), &data);
    meta.insert("model_card".into(), json(&card)?);
    let tensors = named_tensors(&[&model.nets.eg, &model.classifier.group]);
    save_tensors_with_metadata(out, &tensors, Some(meta))?;
    Ok(std::fs::metadata(out)?.len())
}

/// Whether `path` is a bundle file rather than a run folder.
pub fn is_bundle(path: &Path) -> bool {
    path.is_file()
}

/// Opens a bundle: the networks (a discriminator is built but never trained: `segment` and
/// `evaluate` do not use it), the configuration and preprocessing. A bundle of another format
/// version is refused with both versions named.
pub fn open_bundle(path: &Path, device: Device) -> Result<TrainedModel> {
    let (tensors, meta) = load_tensors_with_metadata(path, Device::Cpu)?;
    let format = meta.get(FORMAT_KEY).ok_or_else(|| {
        Error::Format(format!(
            "{}: not a COIN model bundle (no {FORMAT_KEY}; export one with `export --model RUN --out MODEL.coin`)",
            path.display()
        ))
    })?;
    if format.parse::<u32>().ok() != Some(BUNDLE_FORMAT) {
        return Err(Error::Format(format!(
            "{}: bundle format {format}, and this build reads format {BUNDLE_FORMAT} (export the run again with this version)",
            path.display()
        )));
    }
    let config: RunConfig = field(&meta, "config", path)?;
    let prep: Preprocessing = field(&meta, "preprocessing", path)?;
    let data: DataSource = field(&meta, "data", path)?;
    let (nets, classifier) = crate::train::pipeline::untrained_networks(&config, device)?;
    load_named(&[&nets.eg, &classifier.group], tensors)
        .map_err(|e| Error::Format(format!("{}: {e}", path.display())))?;
    Ok(TrainedModel {
        nets,
        classifier,
        config,
        prep,
        data,
        run: path.to_path_buf(),
        checkpoint: path.to_path_buf(),
        step: field(&meta, "step", path)?,
        averaged: field(&meta, "averaged", path)?,
        bundle: true,
    })
}

/// The model card of a bundle (`export` writes it into the bundle and beside it).
pub fn bundle_card(path: &Path) -> Result<String> {
    let (_, meta) = load_tensors_with_metadata(path, Device::Cpu)?;
    field(&meta, "model_card", path)
}
