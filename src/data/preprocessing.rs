//! What a trained model was trained on, and how its inputs were made: the data source of a run
//! and the preprocessing `segment` must repeat (both recorded in every checkpoint), and the
//! slice preprocessing itself, defined once for training (the slice cache and the dataset) and
//! inference (`segment`): a native slice quantised as the cache stores it and windowed to
//! [−1, 1] ([`window_slice`]; in training a synthetic tumour and augmentations follow, at native
//! resolution), then resized to the model's size ([`to_model_size`]).

use super::cache::to_i16;
use super::layout::{LabelIds, LayoutKind};
use super::orientation::SliceOrientation;
use super::resize::resize_linear;
use super::window::{Fingerprint, Window};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where the data come from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataSource {
    /// `None`: the built-in phantom.
    pub root: Option<PathBuf>,
    pub layout: LayoutKind,
    pub labels: LabelIds,
    /// The folder of the label maps when not the layout's own (`--labels-dir`): in every
    /// layout the maps are `<dir>/<case>.nii.gz` by the images' case names (the
    /// TotalSegmentator layout: the image's file name, a series folder's name + `.nii.gz`).
    pub labels_dir: Option<PathBuf>,
    /// Image-level slice labels (`--labels-csv`): the classifier's labels instead of tumour
    /// label maps or synthetic tumours.
    #[serde(default)]
    pub labels_csv: Option<PathBuf>,
    /// `train_scans.csv` / `test_scans.csv` folder for layouts without split folders.
    pub splits: Option<PathBuf>,
}

impl DataSource {
    /// The same source with its folders made absolute (from the current folder): what a run
    /// records, so the record holds wherever it is read from.
    pub fn absolute(&self) -> Result<DataSource> {
        Ok(DataSource {
            root: self.root.as_deref().map(absolute).transpose()?,
            splits: self.splits.as_deref().map(absolute).transpose()?,
            labels_dir: self.labels_dir.as_deref().map(absolute).transpose()?,
            labels_csv: self.labels_csv.as_deref().map(absolute).transpose()?,
            ..self.clone()
        })
    }

    pub fn phantom() -> DataSource {
        DataSource {
            root: None,
            layout: LayoutKind::TotalSegmentator,
            labels: LabelIds::paper(),
            labels_dir: None,
            labels_csv: None,
            splits: None,
        }
    }
}

/// The preprocessing `segment` must repeat: recorded in every checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Preprocessing {
    pub window_hu: [f32; 2],
    pub fingerprint: Option<Fingerprint>,
    pub size: usize,
    pub axis: usize,
    pub kidney_labels: Vec<u32>,
    pub data_root: PathBuf,
    /// World directions of the training slices' rows and columns (from the first training
    /// scan's affine); `segment` turns other scans' slices to match. Absent in older runs.
    #[serde(default)]
    pub orientation: Option<SliceOrientation>,
}

/// `p` from the current folder, so the records that hold it mean the same wherever they are
/// read from.
pub fn absolute(p: &std::path::Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| crate::Error::Invalid(format!("{}: {e}", p.display())))
}

/// A native HU slice as training sees it: truncated and saturated to int16 as the slice cache
/// stores it (so a no-op on cached slices), then windowed to [−1, 1].
pub fn window_slice(hu: &[f32], window: &Window) -> Vec<f32> {
    let mut w: Vec<f32> = hu.iter().map(|&h| to_i16(h) as f32).collect();
    window.apply_all(&mut w);
    w
}

/// A rows × cols windowed slice at the model's size (bilinear, OpenCV's `INTER_LINEAR`).
pub fn to_model_size(
    img: &[f32],
    rows: usize,
    cols: usize,
    size: (usize, usize),
) -> Result<Vec<f32>> {
    resize_linear(img, rows, cols, size.0, size.1)
}
