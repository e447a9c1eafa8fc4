//! DICOM CT series in (a folder, one file per slice, as a scanner or a PACS exports it) and out
//! (the phantom's patients), with the dicom-rs crates.
//!
//! Reading gives the same [`Volume`] as a NIfTI file, on the grid dcm2niix gives the series (so
//! masks made from the dcm2niix conversion — TotalSegmentator's of a DICOM folder — overlay it
//! voxel for voxel): x = the column index, y = the row index reversed, z = the slices sorted by
//! position along the slice normal (row direction × column direction), ascending; the affine is
//! DICOM's patient frame (LPS) turned to NIfTI's RAS. HU = stored value · RescaleSlope +
//! RescaleIntercept.
//!
//! Refused, each with its reason: a folder without DICOM files; several series in the folder
//! unless one is chosen by its SeriesInstanceUID (the ids listed, scouts marked); a multi-frame
//! object; more than one sample per pixel; a transfer syntax outside the decoders built in (its
//! UID named); slices that disagree on size, spacing or orientation; two slices at one position;
//! gantry tilt (the step between slices more than 0.1° off the normal); a slice spacing more than
//! 1 % off the median (a missing or extra slice). A file's own problems (encoding, frames,
//! missing geometry) refuse only the series it belongs to. No patient-identifying element
//! (names, ids, dates) is read into a message or an output: errors name files and series UIDs
//! only.
//!
//! Writing (the phantom): uncompressed explicit-VR little-endian CT slices, int16 with a −1024
//! intercept, synthetic UIDs and no patient data beyond the phantom's own name.

use super::nifti::{Geometry, Volume};
use crate::{Error, Result};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{meta::FileMetaTableBuilder, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::{ConvertOptions, ModalityLutOption, PixelDecoder};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The transfer syntaxes whose pixel data this build decodes.
const SUPPORTED: &[(&str, &str)] = &[
    ("1.2.840.10008.1.2", "implicit VR little endian"),
    ("1.2.840.10008.1.2.1", "explicit VR little endian"),
    (
        "1.2.840.10008.1.2.1.99",
        "deflated explicit VR little endian",
    ),
    ("1.2.840.10008.1.2.2", "explicit VR big endian"),
    ("1.2.840.10008.1.2.4.50", "JPEG baseline"),
    ("1.2.840.10008.1.2.4.51", "JPEG extended"),
    ("1.2.840.10008.1.2.4.57", "JPEG lossless"),
    (
        "1.2.840.10008.1.2.4.70",
        "JPEG lossless, first-order prediction",
    ),
    ("1.2.840.10008.1.2.4.90", "JPEG 2000 lossless"),
    ("1.2.840.10008.1.2.4.91", "JPEG 2000"),
    ("1.2.840.10008.1.2.5", "RLE lossless"),
];

/// CT Image Storage.
const CT_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";

fn err(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Format(format!("{}: {msg}", path.display()))
}

/// Whether `path` starts like a DICOM Part 10 file (128-byte preamble, then "DICM").
pub fn is_dicom_file(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 132];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head[128..] == b"DICM"
}

/// The DICOM files directly in `dir`, sorted by name.
pub fn dicom_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_dicom_file(p))
        .collect();
    files.sort();
    Ok(files)
}

/// Whether `dir` is a folder holding DICOM files (a series, or several).
pub fn is_series_dir(dir: &Path) -> bool {
    dir.is_dir()
        && std::fs::read_dir(dir).is_ok_and(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .any(|p| p.is_file() && is_dicom_file(&p))
        })
}

/// One DICOM file of a folder: the series it belongs to and its slice header, or why it cannot
/// be a slice — refused only when its series is the one read, so a multi-frame object or an
/// unsupported encoding in another series does not stop the folder.
struct SliceFile {
    series: String,
    scout: bool,
    slice: Result<SliceHeader>,
}

/// One slice file's header: what the volume needs, nothing that identifies the patient.
#[derive(Clone, Debug)]
struct SliceHeader {
    file: PathBuf,
    rows: usize,
    cols: usize,
    orientation: [f64; 6],
    position: [f64; 3],
    pixel_spacing: [f64; 2],
    slope: f64,
    intercept: f64,
    /// SliceThickness (1 mm when absent): the slice spacing of a one-slice series.
    thickness: f64,
    /// SOPInstanceUID (empty when absent): how a slice-label CSV may name the slice.
    sop_uid: String,
}

/// Reads `path`'s header (up to the pixel data); an error only for a file that is not readable
/// DICOM at all.
fn read_file(path: &Path) -> Result<SliceFile> {
    let obj = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(path)
        .map_err(|e| err(path, format!("not a readable DICOM file ({e})")))?;
    let text = |tag| -> Option<String> {
        obj.element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
    };
    Ok(SliceFile {
        series: text(tags::SERIES_INSTANCE_UID).unwrap_or_default(),
        scout: text(tags::IMAGE_TYPE).is_some_and(|t| t.to_ascii_uppercase().contains("LOCALIZER")),
        slice: slice_header(&obj, path).map(|h| SliceHeader {
            sop_uid: text(tags::SOP_INSTANCE_UID).unwrap_or_default(),
            ..h
        }),
    })
}

/// The slice header of an opened file, or why it cannot be read as a CT slice.
fn slice_header(obj: &dicom_object::DefaultDicomObject, path: &Path) -> Result<SliceHeader> {
    let ts = obj.meta().transfer_syntax().trim_end_matches(['\0', ' ']);
    if !SUPPORTED.iter().any(|(uid, _)| *uid == ts) {
        return Err(err(
            path,
            format!(
                "transfer syntax {ts} is not supported (supported: {})",
                SUPPORTED
                    .iter()
                    .map(|(u, n)| format!("{u} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    // An element's value; `default` stands in for an absent one (None: it is required).
    let int = |tag, name: &str, default: Option<i64>| -> Result<i64> {
        match (obj.element_opt(tag).ok().flatten(), default) {
            (None, Some(d)) => Ok(d),
            (None, None) => Err(err(path, format!("no {name}"))),
            (Some(e), _) => e
                .to_int::<i64>()
                .map_err(|e| err(path, format!("{name}: {e}"))),
        }
    };
    let float = |tag, name: &str, default: f64| -> Result<f64> {
        let Some(e) = obj.element_opt(tag).ok().flatten() else {
            return Ok(default);
        };
        let v = e
            .to_float64()
            .map_err(|e| err(path, format!("{name}: {e}")))?;
        v.is_finite()
            .then_some(v)
            .ok_or_else(|| err(path, format!("{name} is {v}")))
    };
    let floats = |tag, name: &str, n: usize| -> Result<Vec<f64>> {
        let v = obj
            .element(tag)
            .map_err(|_| err(path, format!("no {name}")))?
            .to_multi_float64()
            .map_err(|e| err(path, format!("{name}: {e}")))?;
        if v.len() != n || v.iter().any(|x| !x.is_finite()) {
            return Err(err(
                path,
                format!("{name} holds {v:?}, expected {n} numbers"),
            ));
        }
        Ok(v)
    };
    let frames = int(tags::NUMBER_OF_FRAMES, "NumberOfFrames", Some(1))?;
    if frames > 1 {
        return Err(err(
            path,
            format!(
                "a multi-frame object ({frames} frames); only one file per slice is read \
                 (convert it, e.g. with dcm2niix)"
            ),
        ));
    }
    let samples = int(tags::SAMPLES_PER_PIXEL, "SamplesPerPixel", Some(1))?;
    if samples != 1 {
        return Err(err(
            path,
            format!("{samples} samples per pixel: not a CT slice"),
        ));
    }
    let (rows, cols) = (
        int(tags::ROWS, "Rows", None)?,
        int(tags::COLUMNS, "Columns", None)?,
    );
    if rows < 1 || cols < 1 {
        return Err(err(path, format!("an image of {rows}×{cols} pixels")));
    }
    let o = floats(
        tags::IMAGE_ORIENTATION_PATIENT,
        "ImageOrientationPatient",
        6,
    )?;
    let p = floats(tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient", 3)?;
    let s = floats(tags::PIXEL_SPACING, "PixelSpacing", 2)?;
    if s.iter().any(|&v| v <= 0.0) {
        return Err(err(path, format!("PixelSpacing {s:?} is not positive")));
    }
    Ok(SliceHeader {
        file: path.to_path_buf(),
        rows: rows as usize,
        cols: cols as usize,
        orientation: [o[0], o[1], o[2], o[3], o[4], o[5]],
        position: [p[0], p[1], p[2]],
        pixel_spacing: [s[0], s[1]],
        slope: float(tags::RESCALE_SLOPE, "RescaleSlope", 1.0)?,
        intercept: float(tags::RESCALE_INTERCEPT, "RescaleIntercept", 0.0)?,
        thickness: float(tags::SLICE_THICKNESS, "SliceThickness", 1.0)?,
        sop_uid: String::new(),
    })
}

/// A series in a folder: its UID, files, and whether it is a scout (localizer).
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesInfo {
    pub uid: String,
    pub files: usize,
    pub scout: bool,
}

fn headers(dir: &Path) -> Result<Vec<SliceFile>> {
    let files = dicom_files(dir)?;
    if files.is_empty() {
        return Err(err(
            dir,
            "holds no DICOM files (Part 10: 'DICM' after a 128-byte preamble)",
        ));
    }
    files.par_iter().map(|f| read_file(f)).collect()
}

fn group(headers: &[SliceFile]) -> Vec<SeriesInfo> {
    let mut out: Vec<SeriesInfo> = Vec::new();
    for h in headers {
        match out.iter_mut().find(|s| s.uid == h.series) {
            Some(s) => {
                s.files += 1;
                s.scout |= h.scout;
            }
            None => out.push(SeriesInfo {
                uid: h.series.clone(),
                files: 1,
                scout: h.scout,
            }),
        }
    }
    out.sort_by(|a, b| a.uid.cmp(&b.uid));
    out
}

/// The series of the DICOM files in `dir`.
pub fn list_series(dir: &Path) -> Result<Vec<SeriesInfo>> {
    Ok(group(&headers(dir)?))
}

fn describe(series: &[SeriesInfo]) -> String {
    series
        .iter()
        .map(|s| {
            let uid = if s.uid.is_empty() {
                "(no SeriesInstanceUID)"
            } else {
                &s.uid
            };
            let scout = if s.scout { ", scout" } else { "" };
            format!("{uid} ({} files{scout})", s.files)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

/// A series' row and column directions and its slice normal (patient coordinates).
type Directions = [[f64; 3]; 3];

/// The slices of the series in `dir` (the one with SeriesInstanceUID `series` when the folder
/// holds several), checked alike and sorted along the slice normal (ascending: the volume's z),
/// with their directions.
fn series_slices(dir: &Path, series: Option<&str>) -> Result<(Vec<SliceHeader>, Directions)> {
    let all = headers(dir)?;
    let groups = group(&all);
    let uid = match series {
        Some(want) => {
            if !groups.iter().any(|s| s.uid == want) {
                return Err(err(
                    dir,
                    format!("holds no series {want}; its series: {}", describe(&groups)),
                ));
            }
            want.to_string()
        }
        None if groups.len() > 1 => {
            return Err(err(
                dir,
                format!(
                    "holds {} series; choose one with --series UID: {}",
                    groups.len(),
                    describe(&groups)
                ),
            ))
        }
        None => groups[0].uid.clone(),
    };
    let mut slices: Vec<SliceHeader> = all
        .into_iter()
        .filter(|f| f.series == uid)
        .map(|f| f.slice)
        .collect::<Result<_>>()?;
    let first = slices[0].clone();
    let r = [
        first.orientation[0],
        first.orientation[1],
        first.orientation[2],
    ];
    let c = [
        first.orientation[3],
        first.orientation[4],
        first.orientation[5],
    ];
    if (norm(r) - 1.0).abs() > 1e-3 || (norm(c) - 1.0).abs() > 1e-3 || dot(r, c).abs() > 1e-3 {
        return Err(err(
            &first.file,
            format!(
                "ImageOrientationPatient {:?} is not two orthogonal unit vectors",
                first.orientation
            ),
        ));
    }
    let n = cross(r, c);
    for h in &slices {
        if (h.rows, h.cols) != (first.rows, first.cols) {
            return Err(err(
                &h.file,
                format!(
                    "a {}×{} slice in a series of {}×{} slices",
                    h.rows, h.cols, first.rows, first.cols
                ),
            ));
        }
        let off = h
            .orientation
            .iter()
            .zip(&first.orientation)
            .any(|(a, b)| (a - b).abs() > 1e-4);
        if off {
            return Err(err(
                &h.file,
                format!(
                    "ImageOrientationPatient {:?} differs from {:?} in {}",
                    h.orientation,
                    first.orientation,
                    first.file.display()
                ),
            ));
        }
        let spacing_off = h
            .pixel_spacing
            .iter()
            .zip(&first.pixel_spacing)
            .any(|(a, b)| (a - b).abs() > 1e-4 * b);
        if spacing_off {
            return Err(err(
                &h.file,
                format!(
                    "PixelSpacing {:?} differs from {:?} in {}",
                    h.pixel_spacing,
                    first.pixel_spacing,
                    first.file.display()
                ),
            ));
        }
    }
    slices.sort_by(|a, b| dot(a.position, n).total_cmp(&dot(b.position, n)));
    Ok((slices, [r, c, n]))
}

/// The SOPInstanceUID of each slice of the series in `dir`, in the order of the volume's z
/// ([`read_series`]): how a slice-label CSV's `sop_instance_uid` finds its slice index.
pub fn slice_uids(dir: &Path, series: Option<&str>) -> Result<Vec<String>> {
    Ok(series_slices(dir, series)?
        .0
        .into_iter()
        .map(|h| h.sop_uid)
        .collect())
}

/// Reads the CT series in `dir` (the one with SeriesInstanceUID `series` when the folder holds
/// several) as a volume on dcm2niix's grid, in HU.
pub fn read_series(dir: &Path, series: Option<&str>) -> Result<Volume> {
    let (slices, [r, c, n]) = series_slices(dir, series)?;
    let first = slices[0].clone();
    let nz = slices.len();
    let mut steps = Vec::with_capacity(nz.saturating_sub(1));
    for w in slices.windows(2) {
        let d = sub(w[1].position, w[0].position);
        let along = dot(d, n);
        if along < 1e-4 {
            return Err(err(
                &w[1].file,
                format!(
                    "at the same position as {} (a duplicate slice, or two acquisitions in \
                     one series)",
                    w[0].file.display()
                ),
            ));
        }
        let angle = (along / norm(d)).clamp(-1.0, 1.0).acos().to_degrees();
        if angle > 0.1 {
            return Err(err(
                &w[1].file,
                format!(
                    "gantry tilt: the step from {} is {angle:.2}° off the slice normal \
                     (at most 0.1° is read; resample the series first)",
                    w[0].file.display()
                ),
            ));
        }
        steps.push(along);
    }
    let dz = if steps.is_empty() {
        first.thickness
    } else {
        let mut sorted = steps.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        for (w, &s) in slices.windows(2).zip(&steps) {
            if (s - median).abs() > 0.01 * median {
                return Err(err(
                    &w[1].file,
                    format!(
                        "{s:.3} mm from {} where the series' median spacing is {median:.3} mm \
                         (more than 1 % off: a missing, extra or unevenly spaced slice)",
                        w[0].file.display()
                    ),
                ));
            }
        }
        median
    };
    let (ny, nx) = (first.rows, first.cols);
    let plane = nx * ny;
    let limit = super::nifti::ReadLimits::default().max_voxels;
    if plane.saturating_mul(nz) > limit {
        return Err(err(
            dir,
            format!("{nx}×{ny}×{nz} voxels exceed the cap of {limit}"),
        ));
    }
    let opts = ConvertOptions::new().with_modality_lut(ModalityLutOption::None);
    let planes: Vec<Vec<f32>> = slices
        .par_iter()
        .map(|h| -> Result<Vec<f32>> {
            let obj = dicom_object::open_file(&h.file).map_err(|e| err(&h.file, e))?;
            let px = obj
                .decode_pixel_data()
                .map_err(|e| err(&h.file, format!("cannot decode the pixel data: {e}")))?;
            let raw: Vec<f64> = px
                .to_vec_with_options(&opts)
                .map_err(|e| err(&h.file, format!("cannot convert the pixel data: {e}")))?;
            if raw.len() != plane {
                return Err(err(
                    &h.file,
                    format!("{} pixels decoded for a {nx}×{ny} slice", raw.len()),
                ));
            }
            // Rows reversed: NIfTI y runs opposite to DICOM's row index (as dcm2niix writes).
            let mut out = Vec::with_capacity(plane);
            for y in 0..ny {
                let row = &raw[(ny - 1 - y) * nx..(ny - y) * nx];
                out.extend(row.iter().map(|&v| (v * h.slope + h.intercept) as f32));
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let data: Vec<f32> = planes.concat();
    let [drow, dcol] = first.pixel_spacing;
    // The slice axis: the mean step from the first slice to the last (dcm2niix's choice).
    let p0 = slices[0].position;
    let step = if nz > 1 {
        sub(slices[nz - 1].position, p0).map(|v| v / (nz - 1) as f64)
    } else {
        n.map(|v| v * dz)
    };
    // Row ny − 1 of the first slice is voxel (0, 0, 0).
    let origin_lps: [f64; 3] = std::array::from_fn(|i| p0[i] + (ny - 1) as f64 * drow * c[i]);
    let to_ras = |v: [f64; 3]| [-v[0], -v[1], v[2]];
    let cols_ras = [
        to_ras(r.map(|v| v * dcol)),
        to_ras(c.map(|v| -v * drow)),
        to_ras(step),
    ];
    let o = to_ras(origin_lps);
    let srow: [[f32; 4]; 3] = std::array::from_fn(|i| {
        [
            cols_ras[0][i] as f32,
            cols_ras[1][i] as f32,
            cols_ras[2][i] as f32,
            o[i] as f32,
        ]
    });
    let spacing = [dcol as f32, drow as f32, dz as f32];
    let geometry = Geometry {
        pixdim: [1.0, spacing[0], spacing[1], spacing[2], 1.0, 1.0, 1.0, 1.0],
        qform_code: 0,
        sform_code: 1,
        quatern: [0.0; 3],
        qoffset: [0.0; 3],
        srow,
        xyzt_units: 2,
    };
    // The affine in f64 (the sform holds it as f32 on disk).
    let mut affine = [[0.0, 0.0, 0.0, 1.0]; 4];
    for (i, row) in affine.iter_mut().take(3).enumerate() {
        *row = [cols_ras[0][i], cols_ras[1][i], cols_ras[2][i], o[i]];
    }
    Ok(Volume {
        data,
        dims: [nx, ny, nz],
        spacing,
        affine,
        geometry,
        source: dir.to_path_buf(),
    })
}

/// What the phantom writes into each slice besides its pixels.
pub struct SeriesMeta<'a> {
    /// The (synthetic) patient's name and id.
    pub patient: &'a str,
    /// A seed for the UIDs (the same seed, the same UIDs).
    pub uid_seed: u64,
}

/// A UID under the 2.25 root (a decimal 128-bit number) derived from `parts`.
fn synthetic_uid(parts: &[u64]) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for &p in parts {
        for b in p.to_le_bytes() {
            h ^= b as u128;
            h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
    }
    format!("2.25.{}", h >> 1)
}

/// Writes `hu` (NIfTI order, `dims`, voxel-to-world `affine` in RAS with orthogonal,
/// right-handed columns — refused otherwise) as a CT series in `dir`, one file per z slice, so
/// that [`read_series`] reads it back on the same world grid (with y reversed, as dcm2niix's
/// convention makes it). Values are rounded to whole HU.
pub fn write_series(
    dir: &Path,
    hu: &[f32],
    dims: [usize; 3],
    affine: &[[f64; 4]; 4],
    meta: &SeriesMeta,
) -> Result<()> {
    let [nx, ny, nz] = dims;
    if hu.len() != nx * ny * nz {
        return Err(Error::Shape(format!(
            "write_series: {} values for {dims:?}",
            hu.len()
        )));
    }
    let col = |j: usize| [affine[0][j], affine[1][j], affine[2][j]];
    let (a0, a1, a2) = (col(0), col(1), col(2));
    let o = col(3);
    let (dcol, drow) = (norm(a0), norm(a1));
    let to_lps = |v: [f64; 3]| [-v[0], -v[1], v[2]];
    let r = to_lps(a0).map(|v| v / dcol);
    let c = to_lps(a1).map(|v| v / drow);
    // The slices must step along the normal (no shear, no tilt) and the normal be r × c (a
    // right-handed affine), or the series would not read back on this grid.
    let step = to_lps(a2);
    let n = cross(r, c);
    if dot(r, c).abs() > 1e-6 || (dot(n, step) - norm(step)).abs() > 1e-6 * norm(step) {
        return Err(Error::Shape(
            "write_series: the affine's columns are not orthogonal and right-handed, so the \
             series would not read back on its grid"
                .into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let study = synthetic_uid(&[meta.uid_seed, 1]);
    let series = synthetic_uid(&[meta.uid_seed, 2]);
    let frame = synthetic_uid(&[meta.uid_seed, 3]);
    let ds = |v: f64| format!("{v:.6}");
    for z in 0..nz {
        let pos = to_lps(std::array::from_fn(|i| o[i] + z as f64 * a2[i]));
        // DICOM row j is NIfTI y = j: the reader's row reversal then gives y' = ny − 1 − y.
        let plane = &hu[z * nx * ny..(z + 1) * nx * ny];
        let stored: Vec<i16> = plane
            .iter()
            .map(|&v| (v.round() + 1024.0).clamp(-32768.0, 32767.0) as i16)
            .collect();
        let instance = synthetic_uid(&[meta.uid_seed, 4, z as u64]);
        let text = |tag, vr, s: &str| DataElement::new(tag, vr, PrimitiveValue::from(s));
        let obj = InMemDicomObject::from_element_iter([
            text(tags::SOP_CLASS_UID, VR::UI, CT_IMAGE_STORAGE),
            text(tags::SOP_INSTANCE_UID, VR::UI, &instance),
            text(tags::MODALITY, VR::CS, "CT"),
            text(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\AXIAL"),
            text(tags::PATIENT_NAME, VR::PN, meta.patient),
            text(tags::PATIENT_ID, VR::LO, meta.patient),
            text(tags::STUDY_INSTANCE_UID, VR::UI, &study),
            text(tags::SERIES_INSTANCE_UID, VR::UI, &series),
            text(tags::FRAME_OF_REFERENCE_UID, VR::UI, &frame),
            text(tags::SERIES_NUMBER, VR::IS, "1"),
            text(tags::INSTANCE_NUMBER, VR::IS, &(z + 1).to_string()),
            text(
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                &pos.map(ds).join("\\"),
            ),
            text(
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                &[r, c]
                    .concat()
                    .into_iter()
                    .map(ds)
                    .collect::<Vec<_>>()
                    .join("\\"),
            ),
            text(tags::SLICE_THICKNESS, VR::DS, &ds(norm(a2))),
            text(
                tags::PIXEL_SPACING,
                VR::DS,
                &format!("{}\\{}", ds(drow), ds(dcol)),
            ),
            DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
            text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
            DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(ny as u16)),
            DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(nx as u16)),
            DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
            DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16)),
            DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16)),
            DataElement::new(
                tags::PIXEL_REPRESENTATION,
                VR::US,
                PrimitiveValue::from(1u16),
            ),
            text(tags::RESCALE_INTERCEPT, VR::DS, "-1024"),
            text(tags::RESCALE_SLOPE, VR::DS, "1"),
            text(tags::RESCALE_TYPE, VR::LO, "HU"),
            DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::from(bytemuck::cast_slice::<i16, u8>(&stored).to_vec()),
            ),
        ]);
        let file = obj
            .with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
            .map_err(|e| err(dir, format!("cannot build slice {z}: {e}")))?;
        let path = dir.join(format!("IM{:05}.dcm", z + 1));
        let tmp = dir.join(format!(".IM{:05}.dcm.tmp", z + 1));
        file.write_to_file(&tmp)
            .map_err(|e| err(&path, format!("cannot write: {e}")))?;
        std::fs::rename(&tmp, &path).map_err(|e| err(&path, e))?;
    }
    Ok(())
}
