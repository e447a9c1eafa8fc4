//! The preprocessed-slice cache: the kept (kidney) slices of one case, decoded once from
//! `.nii.gz` and stored as raw int16 HU + uint8 label ids in one file, so an epoch reads slices
//! with positioned reads (and the OS page cache) instead of decompressing volumes again — the
//! role of the paper's memory-mapped `.npy` files.
//!
//! As the paper's loader, HU become int16 truncated toward zero (`astype(int16)`; values past
//! the int16 range saturate instead of wrapping). Label ids must fit a byte.
//!
//! File layout (little-endian): `b"COINSLC1"`, u64 header length, the header as JSON
//! ([`CacheHeader`]), then for each kept slice `rows·cols` i16 image values followed by
//! `rows·cols` u8 label ids. A file is written to a temporary name and renamed, so a crash never
//! leaves a half cache; a header whose source sizes, times or slicing parameters differ from what
//! is asked is rebuilt.

use super::layout::Case;
use super::nifti::{read_volume, Volume};
use super::scan::read_scan;
use super::slices::{cut, in_plane_axes, organ_slices, Provenance};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"COINSLC1";
const VERSION: u32 = 1;

/// How slices are cut from a case's volumes (part of the cache key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slicing {
    pub axis: usize,
    pub transpose: bool,
    pub flip_rows: bool,
    pub flip_cols: bool,
    /// Label ids counted by the slice filter, and the threshold at 1.5 mm in-plane spacing
    /// (scaled to the volume's spacing).
    pub kidney: Vec<u32>,
    pub threshold_at_1_5mm: usize,
}

/// Identity of a source file (or a DICOM series folder: its files' total length and newest
/// modification time): its path, length and modification time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileStamp {
    pub path: PathBuf,
    pub len: u64,
    pub modified_ns: u128,
}

impl FileStamp {
    pub fn of(path: &Path) -> Result<FileStamp> {
        let meta = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
        let ns = |m: &std::fs::Metadata| {
            m.modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        };
        let (mut len, mut modified_ns) = (meta.len(), ns(&meta));
        if meta.is_dir() {
            for f in super::dicom::dicom_files(path)? {
                let m = std::fs::metadata(&f).map_err(|e| io_err(&f, e))?;
                len += m.len();
                modified_ns = modified_ns.max(ns(&m));
            }
        }
        Ok(FileStamp {
            path: path.to_path_buf(),
            len,
            modified_ns,
        })
    }
}

/// What a cache file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheHeader {
    pub version: u32,
    pub image: FileStamp,
    pub labels: FileStamp,
    pub slicing: Slicing,
    pub dims: [usize; 3],
    /// In-plane spacing (mm) along the slice's rows and columns, after any transpose.
    pub spacing: [f32; 2],
    pub rows: usize,
    pub cols: usize,
    /// Volume indices (along `slicing.axis`) of the kept slices, in file order.
    pub indices: Vec<usize>,
}

/// One case's cached slices.
pub struct CachedCase {
    pub header: CacheHeader,
    pub path: PathBuf,
    data_start: u64,
    file: std::fs::File,
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    ))
}

/// FNV-1a: a stable 64-bit hash for cache file names (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn cache_file(dir: &Path, case: &Case, slicing: &Slicing) -> Result<PathBuf> {
    let key = serde_json::to_string(&(&case.image, &case.labels, slicing))
        .map_err(|e| Error::Format(e.to_string()))?;
    let stem: String = case
        .id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Ok(dir.join(format!("{stem}-{:016x}.coinslc", fnv1a(key.as_bytes()))))
}

/// A HU value as the cache stores it (and so as training saw it).
pub fn to_i16(hu: f32) -> i16 {
    // NumPy's astype(int16) truncates toward zero; saturate instead of wrapping.
    hu.trunc().clamp(i16::MIN as f32, i16::MAX as f32) as i16
}

/// Cuts the kept slices of one case (image and labels must share dims) into cache records.
fn build_records(
    img: &Volume,
    lab: &Volume,
    slicing: &Slicing,
) -> Result<(Vec<usize>, usize, usize, Vec<u8>)> {
    if img.dims != lab.dims {
        return Err(Error::Shape(format!(
            "image {} has dims {:?} but its labels {} have {:?}",
            img.source.display(),
            img.dims,
            lab.source.display(),
            lab.dims
        )));
    }
    if let Some(bad) = lab
        .data
        .iter()
        .find(|&&v| !(0.0..=255.0).contains(&v) || v.fract() != 0.0)
    {
        return Err(Error::Format(format!(
            "{}: label value {bad} is not an integer id in 0..=255",
            lab.source.display()
        )));
    }
    let keep: Vec<usize> = organ_slices(
        lab,
        slicing.axis,
        &slicing.kidney,
        slicing.threshold_at_1_5mm,
    )
    .into_iter()
    .map(|(k, _)| k)
    .collect();
    let mut bytes = Vec::new();
    let (mut rows, mut cols) = (0, 0);
    for &k in &keep {
        let s = cut(
            img,
            slicing.axis,
            k,
            slicing.transpose,
            slicing.flip_rows,
            slicing.flip_cols,
        )?;
        let l = cut(
            lab,
            slicing.axis,
            k,
            slicing.transpose,
            slicing.flip_rows,
            slicing.flip_cols,
        )?;
        (rows, cols) = (s.rows, s.cols);
        for v in &s.data {
            bytes.extend_from_slice(&to_i16(*v).to_le_bytes());
        }
        bytes.extend(l.data.iter().map(|&v| v as u8));
    }
    if keep.is_empty() {
        let s = cut(img, slicing.axis, 0, slicing.transpose, false, false)?;
        (rows, cols) = (s.rows, s.cols);
    }
    Ok((keep, rows, cols, bytes))
}

fn read_header(path: &Path) -> Result<(CacheHeader, u64, std::fs::File)> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut head = [0u8; 16];
    f.read_exact(&mut head).map_err(|e| io_err(path, e))?;
    if &head[..8] != MAGIC {
        return Err(Error::Format(format!(
            "{}: not a slice cache file",
            path.display()
        )));
    }
    let n = u64::from_le_bytes(head[8..].try_into().expect("8 bytes"));
    let file_len = f.metadata().map_err(|e| io_err(path, e))?.len();
    if n > 64 << 20 || 16 + n > file_len {
        return Err(Error::Format(format!(
            "{}: cache header length {n} does not fit the file",
            path.display()
        )));
    }
    let mut json = vec![0u8; n as usize];
    f.read_exact(&mut json).map_err(|e| io_err(path, e))?;
    let header: CacheHeader = serde_json::from_slice(&json)
        .map_err(|e| Error::Format(format!("{}: bad cache header: {e}", path.display())))?;
    let record = header.rows * header.cols * 3;
    if file_len != 16 + n + (record * header.indices.len()) as u64 {
        return Err(Error::Format(format!(
            "{}: cache file is {file_len} bytes, its header describes {} slices of {}×{}",
            path.display(),
            header.indices.len(),
            header.rows,
            header.cols
        )));
    }
    Ok((header, 16 + n, f))
}

impl CachedCase {
    /// Opens the cache of `case` under `dir`, building it (decoding both volumes once) when it
    /// is missing or stale.
    pub fn open_or_build(dir: &Path, case: &Case, slicing: &Slicing) -> Result<CachedCase> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let path = cache_file(dir, case, slicing)?;
        let (image, labels) = (FileStamp::of(&case.image)?, FileStamp::of(&case.labels)?);
        if let Ok((header, data_start, file)) = read_header(&path) {
            if header.version == VERSION
                && header.image == image
                && header.labels == labels
                && header.slicing == *slicing
            {
                return Ok(CachedCase {
                    header,
                    path,
                    data_start,
                    file,
                });
            }
        }
        let (img, lab) = (read_scan(&case.image, None)?, read_volume(&case.labels)?);
        let (indices, rows, cols, bytes) = build_records(&img, &lab, slicing)?;
        let (ra, ca) = in_plane_axes(slicing.axis);
        let (sr, sc) = (img.spacing[ra], img.spacing[ca]);
        let header = CacheHeader {
            version: VERSION,
            image,
            labels,
            slicing: slicing.clone(),
            dims: img.dims,
            spacing: if slicing.transpose {
                [sc, sr]
            } else {
                [sr, sc]
            },
            rows,
            cols,
            indices,
        };
        let json = serde_json::to_vec(&header).map_err(|e| Error::Format(e.to_string()))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        {
            let mut f = std::fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
            f.write_all(MAGIC).map_err(|e| io_err(&tmp, e))?;
            f.write_all(&(json.len() as u64).to_le_bytes())
                .map_err(|e| io_err(&tmp, e))?;
            f.write_all(&json).map_err(|e| io_err(&tmp, e))?;
            f.write_all(&bytes).map_err(|e| io_err(&tmp, e))?;
            f.sync_all().map_err(|e| io_err(&tmp, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
        let (header, data_start, file) = read_header(&path)?;
        Ok(CachedCase {
            header,
            path,
            data_start,
            file,
        })
    }

    pub fn len(&self) -> usize {
        self.header.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.header.indices.is_empty()
    }

    /// Slot `slot`'s HU (as f32) and label ids, read from the file.
    pub fn read(&self, slot: usize) -> Result<(Vec<f32>, Vec<u8>)> {
        if slot >= self.len() {
            return Err(Error::Invalid(format!(
                "{}: slice slot {slot} of {}",
                self.path.display(),
                self.len()
            )));
        }
        let n = self.header.rows * self.header.cols;
        let mut buf = vec![0u8; 3 * n];
        let at = self.data_start + (3 * n * slot) as u64;
        read_at(&self.file, &mut buf, at).map_err(|e| io_err(&self.path, e))?;
        let hu = buf[..2 * n]
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32)
            .collect();
        Ok((hu, buf[2 * n..].to_vec()))
    }

    /// Where slot `slot` came from, for writing a mask back into the case's volume.
    pub fn provenance(&self, slot: usize) -> Provenance {
        let h = &self.header;
        let (ra, ca) = in_plane_axes(h.slicing.axis);
        Provenance {
            volume: h.image.path.clone(),
            axis: h.slicing.axis,
            index: h.indices[slot],
            rows_axis: ra,
            cols_axis: ca,
            transposed: h.slicing.transpose,
            flip_rows: h.slicing.flip_rows,
            flip_cols: h.slicing.flip_cols,
            rows: h.rows,
            cols: h.cols,
        }
    }
}

#[cfg(unix)]
fn read_at(f: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, at)
}

#[cfg(not(unix))]
fn read_at(f: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    use std::io::Seek;
    let mut f = f.try_clone()?;
    f.seek(std::io::SeekFrom::Start(at))?;
    f.read_exact(buf)
}
