//! What `segment` writes beside each mask: a JSON sidecar saying what made it (inputs and their
//! checksum, model and its checksum, versions, device, threshold, post-processing, window,
//! orientation plan, slices processed and skipped, the mask's 3-D connected components,
//! seconds), and a PNG preview of the slices with the largest findings. Neither carries a
//! patient-identifying tag: the scans' headers are never copied.

use crate::data::Volume;
use crate::io::figures::{save_rgb_grid, Rgb, FALSE_POSITIVE};
use crate::Result;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One 26-connected component of a mask.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Component {
    pub voxels: usize,
    pub ml: f64,
}

/// The 26-connected components of the nonzero voxels of `mask` (NIfTI order, `dims`), largest
/// first, with their volumes for voxels of `spacing` mm.
pub fn components(mask: &[u8], dims: [usize; 3], spacing: [f32; 3]) -> Vec<Component> {
    let voxel_ml = spacing.iter().map(|&s| s as f64).product::<f64>() / 1000.0;
    crate::data::components::components(|i| mask[i] != 0, dims)
        .into_iter()
        .map(|c| Component {
            voxels: c.len(),
            ml: c.len() as f64 * voxel_ml,
        })
        .collect()
}

/// The SHA-256 of `files` read in the order given, as hex.
pub fn sha256_of(files: &[PathBuf]) -> Result<String> {
    let mut h = Sha256::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| {
            crate::Error::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", f.display()),
            ))
        })?;
        h.update(&bytes);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The files an input is made of: the file itself, or a series folder's files sorted by name.
pub fn input_files(input: &Path) -> Result<Vec<PathBuf>> {
    if !input.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(input)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && crate::data::dicom::is_dicom_file(p))
        .collect();
    files.sort();
    Ok(files)
}

/// Where a file is and what it holds.
#[derive(Clone, Debug, Serialize)]
pub struct FileStamp {
    pub path: String,
    /// For a DICOM series: the files, sorted by name (the checksum runs over them in that order).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    pub sha256: String,
}

impl FileStamp {
    /// `input`'s stamp: its path as given, its files and their SHA-256.
    pub fn of(input: &Path) -> Result<FileStamp> {
        let files = input_files(input)?;
        let names = if input.is_dir() {
            files
                .iter()
                .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()))
                .collect()
        } else {
            Vec::new()
        };
        Ok(FileStamp {
            path: input.display().to_string(),
            files: names,
            sha256: sha256_of(&files)?,
        })
    }
}

/// The sidecar `MASK.json` of one mask.
#[derive(Clone, Debug, Serialize)]
pub struct Sidecar {
    pub mask: String,
    pub input: FileStamp,
    pub organ_mask: Option<FileStamp>,
    /// The model (a run folder's checkpoint or a bundle) and the checksum of its weights.
    pub model: FileStamp,
    pub model_step: u64,
    pub model_averaged: bool,
    #[serde(flatten)]
    pub software: Software,
    pub device: String,
    pub threshold: f64,
    pub postprocess: bool,
    pub window_hu: [f32; 2],
    pub size: usize,
    pub axis: usize,
    pub orientation: OrientationPlan,
    pub slices_processed: Vec<usize>,
    pub slices_skipped: usize,
    pub skipped_because: String,
    pub components: Vec<Component>,
    pub mask_voxels: usize,
    pub mask_ml: f64,
    pub seconds: f64,
}

/// The software that wrote a file.
#[derive(Clone, Debug, Serialize)]
pub struct Software {
    pub software_version: String,
    pub git_commit: Option<String>,
}

impl Software {
    /// This build's version and commit.
    pub fn current() -> Software {
        Software {
            software_version: crate::host::version().to_string(),
            git_commit: crate::host::commit(),
        }
    }
}

/// How slices were turned to the training orientation.
#[derive(Clone, Debug, Serialize)]
pub struct OrientationPlan {
    pub transpose: bool,
    pub flip_rows: bool,
    pub flip_cols: bool,
    pub warning: Option<String>,
}

/// A mask file's name without `.nii.gz` / `.nii`.
pub fn mask_stem(name: &str) -> &str {
    name.strip_suffix(".nii.gz")
        .or_else(|| name.strip_suffix(".nii"))
        .unwrap_or(name)
}

/// `mask.nii.gz` → `mask.EXT` beside it.
fn beside(mask: &Path, ext: &str) -> PathBuf {
    let name = mask
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    mask.with_file_name(format!("{}.{ext}", mask_stem(&name)))
}

/// `mask.nii.gz` → `mask.json` (beside it).
pub fn sidecar_path(mask: &Path) -> PathBuf {
    beside(mask, "json")
}

/// `mask.nii.gz` → `mask.png` (beside it): the preview.
pub fn preview_path(mask: &Path) -> PathBuf {
    beside(mask, "png")
}

/// The slice indices along `axis` with the most mask voxels (at most `n`, largest first; the
/// middle slice when the mask is empty).
pub fn largest_findings(mask: &[u8], dims: [usize; 3], axis: usize, n: usize) -> Vec<usize> {
    let mut counts = vec![0usize; dims[axis]];
    for (i, &m) in mask.iter().enumerate() {
        if m != 0 {
            let at = [i % dims[0], i / dims[0] % dims[1], i / (dims[0] * dims[1])];
            counts[at[axis]] += 1;
        }
    }
    let mut order: Vec<usize> = (0..counts.len()).filter(|&k| counts[k] > 0).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(counts[k]));
    order.truncate(n);
    if order.is_empty() {
        order.push(dims[axis] / 2);
    }
    order
}

/// A PNG of the slices along `axis` with the largest findings (up to three, side by side):
/// the input in a soft-tissue window (W400 L40) with the mask's outline in red, the first
/// remaining axis to the right and the second upwards.
pub fn save_preview(path: &Path, v: &Volume, mask: &[u8], axis: usize) -> Result<()> {
    let (a, b) = match axis {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let (w, h) = (v.dims[a], v.dims[b]);
    let index = |p: [usize; 3]| (p[2] * v.dims[1] + p[1]) * v.dims[0] + p[0];
    let tiles: Vec<Vec<Rgb>> = largest_findings(mask, v.dims, axis, 3)
        .into_iter()
        .map(|k| {
            let at = |x: usize, y: usize| {
                let mut p = [0; 3];
                (p[axis], p[a], p[b]) = (k, x, y);
                index(p)
            };
            let inside = |x: i64, y: i64| {
                x >= 0
                    && y >= 0
                    && (x as usize) < w
                    && (y as usize) < h
                    && mask[at(x as usize, y as usize)] != 0
            };
            let mut tile = Vec::with_capacity(w * h);
            for row in 0..h {
                let y = h - 1 - row; // upwards
                for x in 0..w {
                    let (xi, yi) = (x as i64, y as i64);
                    let edge = inside(xi, yi)
                        && [(-1, 0), (1, 0), (0, -1), (0, 1)]
                            .iter()
                            .any(|(dx, dy)| !inside(xi + dx, yi + dy));
                    tile.push(if edge {
                        FALSE_POSITIVE
                    } else {
                        let hu = v.data[at(x, y)];
                        let g = (((hu + 160.0) / 400.0).clamp(0.0, 1.0) * 255.0).round() as u8;
                        [g, g, g]
                    });
                }
            }
            tile
        })
        .collect();
    save_rgb_grid(path, &[tiles], h, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_26_connected_and_sized() {
        let dims = [4, 4, 3];
        let mut m = vec![0u8; 48];
        let at = |x: usize, y: usize, z: usize| (z * 4 + y) * 4 + x;
        // Two voxels touching only at a corner (26-connected), and an isolated pair.
        m[at(0, 0, 0)] = 1;
        m[at(1, 1, 1)] = 1;
        m[at(3, 3, 2)] = 1;
        m[at(3, 2, 2)] = 1;
        m[at(3, 0, 0)] = 1;
        let c = components(&m, dims, [2.0, 2.0, 2.5]);
        let v: Vec<usize> = c.iter().map(|c| c.voxels).collect();
        assert_eq!(v, [2, 2, 1]);
        assert!((c[0].ml - 2.0 * 10.0 / 1000.0).abs() < 1e-12);
        assert_eq!(largest_findings(&m, dims, 2, 2), [0, 2]);
        assert_eq!(
            sidecar_path(Path::new("out/a.nii.gz")),
            Path::new("out/a.json")
        );
        assert_eq!(preview_path(Path::new("out/b.nii")), Path::new("out/b.png"));
    }
}
