//! A scan as the user holds it — a NIfTI file (`.nii`, `.nii.gz`) or a folder of DICOM slices —
//! read into one [`Volume`] (HU, the grid NIfTI tools and dcm2niix give it).

use super::dicom::{is_series_dir, read_series};
use super::nifti::{read_volume, Volume};
use crate::{Error, Result};
use std::path::Path;

/// Reads the scan at `path`: a DICOM series folder (the series `series` when it holds several)
/// or a NIfTI file.
pub fn read_scan(path: &Path, series: Option<&str>) -> Result<Volume> {
    if path.is_dir() {
        if !is_series_dir(path) {
            return Err(Error::Format(format!(
                "{}: a folder without DICOM files; a scan is a .nii/.nii.gz file or a folder \
                 of one DICOM series",
                path.display()
            )));
        }
        return read_series(path, series);
    }
    if let Some(uid) = series {
        return Err(Error::Format(format!(
            "{}: --series {uid} picks a series of a DICOM folder, and this is a file",
            path.display()
        )));
    }
    read_volume(path)
}
