//! Dataset layouts on disk: which files are images, which are their label maps, which split
//! they belong to, and which label ids mean kidney, tumour and cyst.
//!
//! - **KiTS**: `root/case_*/imaging.nii.gz` (or a DICOM series folder `imaging/`) +
//!   `segmentation.nii.gz`; axial = axis 0.
//! - **nnU-Net raw**: `root/imagesTr/<case>_0000.nii.gz` (or a DICOM series folder
//!   `imagesTr/<case>/`) + `root/labelsTr/<case>.nii.gz`; axial = axis 2; splits from lists of
//!   file names (the TUH `train_scans.csv` / `test_scans.csv`).
//! - **TotalSegmentator (the paper's)**: volumes anywhere under `root/train/` and `root/test/` —
//!   NIfTI files, or DICOM series folders (a folder holding slice files is one case, its id the
//!   folder's path and its label map `<folder name>.nii.gz`) — label maps with the same file
//!   names in a parallel folder (the paper's `nnUNet_predictions/`); axial = axis 2; the split
//!   is the folder.
//!
//! A series folder's label map must be on the grid the series reads onto (dcm2niix's).
//!
//! Cases are returned sorted by id, so every run sees them in the same order.

use super::dicom::is_series_dir;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// A dataset layout; on the command line `totalsegmentator`, `kits` or `nnunet`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LayoutKind {
    Kits,
    #[value(name = "nnunet")]
    NnUnet,
    #[value(name = "totalsegmentator")]
    TotalSegmentator,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// Label ids (sets) of the structures the method uses.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LabelIds {
    pub kidney: Vec<u32>,
    pub tumour: Vec<u32>,
    pub cyst: Vec<u32>,
}

impl LabelIds {
    /// The paper's label maps and nnU-Net/TUH: kidney 1, tumour 2, cyst 3.
    pub fn paper() -> LabelIds {
        LabelIds {
            kidney: vec![1],
            tumour: vec![2],
            cyst: vec![3],
        }
    }
    /// TotalSegmentator's multilabel maps: kidney_right 2, kidney_left 3 (no tumour classes).
    pub fn totalsegmentator_multilabel() -> LabelIds {
        LabelIds {
            kidney: vec![2, 3],
            tumour: vec![],
            cyst: vec![],
        }
    }
}

/// One scan: its image, its label map and (when the layout says) its split.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub id: String,
    pub image: PathBuf,
    pub labels: PathBuf,
    pub split: Option<Split>,
}

impl LayoutKind {
    /// The volume axis that is axial in this layout.
    pub fn axial_axis(self) -> usize {
        match self {
            LayoutKind::Kits => 0,
            _ => 2,
        }
    }
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    ))
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
}

/// NIfTI files and DICOM series folders under `dir` (a series folder is not searched further).
fn scans_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for p in entries(dir)? {
        if p.is_dir() && is_series_dir(&p) {
            out.push(p);
        } else if p.is_dir() {
            scans_under(&p, out)?;
        } else if p.to_string_lossy().ends_with(".nii.gz") || p.to_string_lossy().ends_with(".nii")
        {
            out.push(p);
        }
    }
    Ok(())
}

fn need(path: PathBuf, what: &str) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Format(format!(
            "{what} {} is missing",
            path.display()
        )))
    }
}

/// Finds the cases of `root` laid out as `kind`. `labels_dir` (relative: under `root`) holds the
/// label maps instead of the layout's own place: `<dir>/<case>.nii.gz` for KiTS and nnU-Net,
/// the image's name for TotalSegmentator (whose default folder is `nnUNet_predictions`).
pub fn discover(kind: LayoutKind, root: &Path, labels_dir: Option<&Path>) -> Result<Vec<Case>> {
    let own_labels = labels_dir.map(|d| root.join(d));
    if !root.is_dir() {
        return Err(Error::Format(format!(
            "dataset folder {} does not exist",
            root.display()
        )));
    }
    let mut cases = Vec::new();
    match kind {
        LayoutKind::Kits => {
            for d in entries(root)? {
                let name = d
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                if d.is_dir() && name.starts_with("case_") {
                    let series = d.join("imaging");
                    let image = if is_series_dir(&series) {
                        series
                    } else {
                        need(d.join("imaging.nii.gz"), "KiTS image")?
                    };
                    let labels = match &own_labels {
                        Some(dir) => need(dir.join(format!("{name}.nii.gz")), "label map")?,
                        None => need(d.join("segmentation.nii.gz"), "KiTS segmentation")?,
                    };
                    cases.push(Case {
                        id: name,
                        image,
                        labels,
                        split: None,
                    });
                }
            }
        }
        LayoutKind::NnUnet => {
            let imgs = root.join("imagesTr");
            let labs = own_labels.clone().unwrap_or_else(|| root.join("labelsTr"));
            for p in entries(&imgs)? {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                let id = match name.strip_suffix("_0000.nii.gz") {
                    Some(id) => Some(id),
                    None if is_series_dir(&p) => Some(name.as_str()),
                    None => None,
                };
                if let Some(id) = id {
                    let labels = need(labs.join(format!("{id}.nii.gz")), "nnU-Net label map")?;
                    cases.push(Case {
                        id: id.to_string(),
                        image: p,
                        labels,
                        split: None,
                    });
                }
            }
        }
        LayoutKind::TotalSegmentator => {
            let labels_root = own_labels
                .clone()
                .unwrap_or_else(|| root.join("nnUNet_predictions"));
            for (folder, split) in [("train", Split::Train), ("test", Split::Test)] {
                let dir = root.join(folder);
                if !dir.is_dir() {
                    continue;
                }
                let mut files = Vec::new();
                scans_under(&dir, &mut files)?;
                for image in files {
                    let mut name = image
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default();
                    if image.is_dir() {
                        name.push_str(".nii.gz");
                    }
                    let labels = need(labels_root.join(&name), "label map")?;
                    let id = image
                        .strip_prefix(root)
                        .unwrap_or(&image)
                        .to_string_lossy()
                        .to_string();
                    cases.push(Case {
                        id,
                        image,
                        labels,
                        split: Some(split),
                    });
                }
            }
        }
    }
    if cases.is_empty() {
        return Err(Error::Format(format!(
            "no {kind:?} cases found under {}",
            root.display()
        )));
    }
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(cases)
}

/// Assigns splits from lists of file names (one per line or comma-separated; a header line
/// without ".nii" is skipped): a case is in a list when its image's file name (or its id) is.
/// Cases in neither list keep their split; a case in both is an error.
pub fn apply_split_lists(cases: &mut [Case], train_list: &Path, test_list: &Path) -> Result<()> {
    let read = |p: &Path| -> Result<Vec<String>> {
        let text = std::fs::read_to_string(p).map_err(|e| io(p, e))?;
        Ok(text
            .split(['\n', ','])
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .collect())
    };
    let (train, test) = (read(train_list)?, read(test_list)?);
    for c in cases.iter_mut() {
        let name = c
            .image
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let hit = |list: &[String]| {
            list.iter()
                .any(|s| *s == name || *s == c.id || s.trim_end_matches("_0000.nii.gz") == c.id)
        };
        match (hit(&train), hit(&test)) {
            (true, true) => {
                return Err(Error::Format(format!(
                    "case {} is in both split lists",
                    c.id
                )))
            }
            (true, false) => c.split = Some(Split::Train),
            (false, true) => c.split = Some(Split::Test),
            (false, false) => {}
        }
    }
    Ok(())
}
