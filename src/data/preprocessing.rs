//! What a trained model was trained on, and how its inputs were made: the data source of a run
//! and the preprocessing `segment` must repeat (both recorded in every checkpoint).

use super::layout::{LabelIds, LayoutKind};
use super::orientation::SliceOrientation;
use super::window::Fingerprint;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where the data come from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataSource {
    /// `None`: the built-in phantom.
    pub root: Option<PathBuf>,
    pub layout: LayoutKind,
    pub labels: LabelIds,
    /// A folder of label maps other than the layout's default (TotalSegmentator layout).
    pub labels_dir: Option<String>,
    /// `train_scans.csv` / `test_scans.csv` folder for layouts without split folders.
    pub splits: Option<PathBuf>,
}

impl DataSource {
    pub fn phantom() -> DataSource {
        DataSource {
            root: None,
            layout: LayoutKind::TotalSegmentator,
            labels: LabelIds::paper(),
            labels_dir: None,
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
