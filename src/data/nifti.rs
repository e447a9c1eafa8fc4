//! NIfTI-1 volumes (`.nii`, `.nii.gz`) in and out.
//!
//! Reading: the 348-byte header is parsed and checked here first — byte order, NIfTI-2 (a clear
//! error: only NIfTI-1 is read), dimensions, data type, voxel offset, and the voxel count × bytes
//! per voxel against the file's length (`.nii`) and a cap (both) — so a hostile or truncated
//! file fails with a message naming it before anything large is allocated. Then the `nifti`
//! crate reads the voxels (every on-disk integer and float type, either byte order), scaled by
//! `scl_slope`/`scl_inter` when the slope is non-zero. NaN voxels are an error.
//!
//! Geometry: the voxel-to-world affine comes from the sform when `sform_code > 0`, else from the
//! qform quaternion when `qform_code > 0`, else from the voxel spacing alone (NIfTI's method 1).
//!
//! Writing: a uint8 label volume on a source volume's grid, with its sform and qform copied, so
//! viewers overlay it on the image; written atomically (temporary file, then rename).

use crate::{Error, Result};
use flate2::read::GzDecoder;
use nifti::{NiftiObject, NiftiType, ReaderOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// What a read may allocate.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    /// Most voxels accepted (default 2³⁰, 4 GiB as f32).
    pub max_voxels: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_voxels: 1 << 30,
        }
    }
}

/// The spatial fields of a NIfTI-1 header, kept so labels can be written on the same grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Geometry {
    pub pixdim: [f32; 8],
    pub qform_code: i16,
    pub sform_code: i16,
    pub quatern: [f32; 3],
    pub qoffset: [f32; 3],
    pub srow: [[f32; 4]; 3],
    pub xyzt_units: u8,
}

/// A 3-D scalar volume, voxels in NIfTI order (x fastest): `data[x + nx·(y + ny·z)]`.
#[derive(Clone, Debug)]
pub struct Volume {
    pub data: Vec<f32>,
    pub dims: [usize; 3],
    /// Voxel size along x, y, z (`pixdim[1..4]`), in the file's units (usually mm).
    pub spacing: [f32; 3],
    /// Voxel (i, j, k, 1) → world coordinates.
    pub affine: [[f64; 4]; 4],
    pub geometry: Geometry,
    pub source: PathBuf,
}

impl Volume {
    pub fn numel(&self) -> usize {
        self.dims.iter().product()
    }
}

fn err(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Format(format!("{}: {msg}", path.display()))
}

fn is_gz(path: &Path) -> bool {
    path.to_string_lossy().to_ascii_lowercase().ends_with(".gz")
}

/// Bytes per voxel of the supported on-disk types.
fn bytes_per_voxel(code: i16) -> Option<usize> {
    Some(match code {
        2 | 256 => 1,          // uint8, int8
        4 | 512 => 2,          // int16, uint16
        8 | 16 | 768 => 4,     // int32, float32, uint32
        64 | 1024 | 1280 => 8, // float64, int64, uint64
        _ => return None,
    })
}

/// The checked essentials of a NIfTI-1 header.
struct Checked {
    dims: [usize; 3],
    data_bytes: usize,
    vox_offset: usize,
}

/// Parses and checks the first 348 bytes.
fn check_header(path: &Path, h: &[u8; 348], limits: ReadLimits) -> Result<Checked> {
    let le = i32::from_le_bytes(h[0..4].try_into().unwrap());
    let be = i32::from_be_bytes(h[0..4].try_into().unwrap());
    let big = match (le, be) {
        (348, _) => false,
        (_, 348) => true,
        (540, _) | (_, 540) => {
            return Err(err(
                path,
                "this is a NIfTI-2 file; only NIfTI-1 is read (convert it, e.g. with nibabel)",
            ))
        }
        _ => {
            return Err(err(
                path,
                format!("not a NIfTI-1 file (header size field is {le}, expected 348)"),
            ))
        }
    };
    let i16_at = |o: usize| {
        let b = [h[o], h[o + 1]];
        if big {
            i16::from_be_bytes(b)
        } else {
            i16::from_le_bytes(b)
        }
    };
    let f32_at = |o: usize| {
        let b = [h[o], h[o + 1], h[o + 2], h[o + 3]];
        if big {
            f32::from_be_bytes(b)
        } else {
            f32::from_le_bytes(b)
        }
    };
    match &h[344..348] {
        b"n+1\0" => {}
        b"ni1\0" => {
            return Err(err(
                path,
                "a .hdr/.img pair header; only single-file .nii/.nii.gz is read",
            ))
        }
        m => {
            return Err(err(
                path,
                format!("bad NIfTI-1 magic {m:?} (expected \"n+1\")"),
            ))
        }
    }
    let dim: Vec<i16> = (0..8).map(|k| i16_at(40 + 2 * k)).collect();
    let rank = dim[0];
    if !(1..=7).contains(&rank) {
        return Err(err(
            path,
            format!("dim[0] = {rank} is not a rank between 1 and 7"),
        ));
    }
    let rank = rank as usize;
    for (k, &d) in dim.iter().enumerate().take(rank + 1).skip(1) {
        if d < 1 {
            return Err(err(
                path,
                format!("dimension {k} is {d}; every dimension must be at least 1"),
            ));
        }
    }
    if rank > 3 && dim[4..=rank].iter().any(|&d| d != 1) {
        return Err(err(
            path,
            format!(
                "a {rank}-D volume with dims {:?}; only 3-D scalar volumes are read",
                &dim[1..=rank]
            ),
        ));
    }
    let d = |k: usize| if k <= rank { dim[k] as usize } else { 1 };
    let dims = [d(1), d(2), d(3)];
    let code = i16_at(70);
    let bpv = bytes_per_voxel(code).ok_or_else(|| {
        err(
            path,
            format!("unsupported data type code {code} (supported: integers and floats)"),
        )
    })?;
    let bitpix = i16_at(72);
    if bitpix as usize != bpv * 8 {
        return Err(err(
            path,
            format!(
                "bitpix {bitpix} does not match data type {code} ({} bits)",
                bpv * 8
            ),
        ));
    }
    let voxels = dims.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    let voxels = match voxels {
        Some(v) if v <= limits.max_voxels => v,
        _ => {
            return Err(err(
                path,
                format!(
                    "{dims:?} voxels exceed the limit of {} (ReadLimits::max_voxels)",
                    limits.max_voxels
                ),
            ))
        }
    };
    let vox_offset = f32_at(108);
    if !(348.0..=1e9).contains(&vox_offset) || vox_offset.fract() != 0.0 {
        return Err(err(
            path,
            format!("voxel offset {vox_offset} is not a whole number ≥ 348"),
        ));
    }
    Ok(Checked {
        dims,
        data_bytes: voxels * bpv,
        vox_offset: vox_offset as usize,
    })
}

/// Reads a 3-D NIfTI-1 volume (`.nii` or `.nii.gz`) as f32 with the default limits.
pub fn read_volume(path: &Path) -> Result<Volume> {
    read_volume_with(path, ReadLimits::default())
}

/// Reads a 3-D NIfTI-1 volume with explicit limits.
pub fn read_volume_with(path: &Path, limits: ReadLimits) -> Result<Volume> {
    let file = std::fs::File::open(path).map_err(|e| err(path, e))?;
    let file_len = file.metadata().map_err(|e| err(path, e))?.len();
    let mut head = [0u8; 348];
    let read_head = if is_gz(path) {
        GzDecoder::new(file).read_exact(&mut head)
    } else {
        let mut f = file;
        f.read_exact(&mut head)
    };
    read_head.map_err(|e| {
        err(
            path,
            format!("cannot read the 348-byte header ({e}): truncated, or not NIfTI"),
        )
    })?;
    let checked = check_header(path, &head, limits)?;
    if !is_gz(path) && file_len < (checked.vox_offset + checked.data_bytes) as u64 {
        return Err(err(
            path,
            format!(
                "truncated: {:?} voxels need {} bytes after offset {}, the file has {} bytes",
                checked.dims, checked.data_bytes, checked.vox_offset, file_len
            ),
        ));
    }
    let obj = ReaderOptions::new()
        .read_file(path)
        .map_err(|e| err(path, format!("cannot read voxels: {e}")))?;
    let h = obj.header().clone();
    let datatype: NiftiType = h.data_type().map_err(|e| err(path, e))?;
    let raw = obj.into_volume().into_raw_data();
    if raw.len() < checked.data_bytes {
        return Err(err(
            path,
            format!(
                "truncated: {} of {} voxel bytes",
                raw.len(),
                checked.data_bytes
            ),
        ));
    }
    let bpv = datatype.size_of();
    let mut data = Vec::with_capacity(checked.data_bytes / bpv);
    let raw = &raw[..checked.data_bytes];
    let identity = h.scl_slope == 0.0 || (h.scl_slope == 1.0 && h.scl_inter == 0.0);
    if identity && convert_plain(datatype, h.endianness, raw, &mut data) {
        if let Some(i) = data.iter().position(|v| v.is_nan()) {
            return Err(err(path, format!("voxel {i} is NaN")));
        }
    }
    for (i, chunk) in raw.chunks_exact(bpv).enumerate().skip(data.len()) {
        let v: f32 = datatype
            .read_primitive_value(chunk, h.endianness, h.scl_slope, h.scl_inter)
            .map_err(|e| err(path, format!("voxel {i}: {e}")))?;
        if v.is_nan() {
            return Err(err(path, format!("voxel {i} is NaN")));
        }
        data.push(v);
    }
    let geometry = Geometry {
        pixdim: h.pixdim,
        qform_code: h.qform_code,
        sform_code: h.sform_code,
        quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
        qoffset: [h.quatern_x, h.quatern_y, h.quatern_z],
        srow: [h.srow_x, h.srow_y, h.srow_z],
        xyzt_units: h.xyzt_units,
    };
    Ok(Volume {
        data,
        dims: checked.dims,
        spacing: [h.pixdim[1].abs(), h.pixdim[2].abs(), h.pixdim[3].abs()],
        affine: affine(&geometry),
        geometry,
        source: path.to_path_buf(),
    })
}

/// Converts unscaled voxels of the common types in bulk (the per-voxel path of the `nifti` crate
/// costs as much as decompression); false, leaving `out` empty, for the other types.
fn convert_plain(t: NiftiType, e: nifti::Endianness, raw: &[u8], out: &mut Vec<f32>) -> bool {
    let big = e == nifti::Endianness::Big;
    macro_rules! each {
        ($ty:ty, $n:expr) => {
            out.extend(raw.chunks_exact($n).map(|c| {
                let b: [u8; $n] = c.try_into().expect("chunk size");
                (if big {
                    <$ty>::from_be_bytes(b)
                } else {
                    <$ty>::from_le_bytes(b)
                }) as f32
            }))
        };
    }
    match t {
        NiftiType::Uint8 => out.extend(raw.iter().map(|&v| v as f32)),
        NiftiType::Int8 => out.extend(raw.iter().map(|&v| v as i8 as f32)),
        NiftiType::Int16 => each!(i16, 2),
        NiftiType::Uint16 => each!(u16, 2),
        NiftiType::Int32 => each!(i32, 4),
        NiftiType::Uint32 => each!(u32, 4),
        NiftiType::Float32 => each!(f32, 4),
        NiftiType::Float64 => each!(f64, 8),
        _ => return false,
    }
    true
}

/// Voxel → world: sform if set, else qform, else spacing only.
pub fn affine(g: &Geometry) -> [[f64; 4]; 4] {
    let mut a = [[0.0; 4]; 4];
    a[3][3] = 1.0;
    if g.sform_code > 0 {
        for (row, srow) in a.iter_mut().zip(&g.srow) {
            for (v, &s) in row.iter_mut().zip(srow) {
                *v = s as f64;
            }
        }
        return a;
    }
    let (dx, dy, dz) = (g.pixdim[1] as f64, g.pixdim[2] as f64, g.pixdim[3] as f64);
    if g.qform_code > 0 {
        let [b, c, d] = g.quatern.map(|v| v as f64);
        let a0 = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let qfac = if g.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let r = [
            [
                a0 * a0 + b * b - c * c - d * d,
                2.0 * (b * c - a0 * d),
                2.0 * (b * d + a0 * c),
            ],
            [
                2.0 * (b * c + a0 * d),
                a0 * a0 + c * c - b * b - d * d,
                2.0 * (c * d - a0 * b),
            ],
            [
                2.0 * (b * d - a0 * c),
                2.0 * (c * d + a0 * b),
                a0 * a0 + d * d - b * b - c * c,
            ],
        ];
        let s = [dx, dy, dz * qfac];
        for ((row, rot), &off) in a.iter_mut().zip(&r).zip(&g.qoffset) {
            for ((v, &m), &sc) in row.iter_mut().zip(rot).zip(&s) {
                *v = m * sc;
            }
            row[3] = off as f64;
        }
        return a;
    }
    a[0][0] = dx;
    a[1][1] = dy;
    a[2][2] = dz;
    a
}

/// Writes `labels` (NIfTI order, the source's dims) as a uint8 volume on `like`'s grid:
/// same dimensions, spacing, qform and sform. `.nii.gz` paths are gzip-compressed.
pub fn write_labels(path: &Path, labels: &[u8], like: &Volume) -> Result<()> {
    if labels.len() != like.numel() {
        return Err(Error::Shape(format!(
            "write_labels: {} labels for a volume of {:?} = {} voxels",
            labels.len(),
            like.dims,
            like.numel()
        )));
    }
    write_nifti(path, like.dims, &like.geometry, 2, labels)
}

/// Writes float32 values (e.g. a counterfactual in HU or a difference map) on `like`'s grid
/// (`write_nifti` refuses a length that does not fit its dims).
pub fn write_f32(path: &Path, values: &[f32], like: &Volume) -> Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_nifti(path, like.dims, &like.geometry, 16, &bytes)
}

/// Writes HU values rounded to int16 (CT's usual storage) with `geometry`.
pub fn write_hu(path: &Path, hu: &[f32], dims: [usize; 3], geometry: &Geometry) -> Result<()> {
    if hu.len() != dims.iter().product::<usize>() {
        return Err(Error::Shape(format!(
            "write_hu: {} values for dims {dims:?}",
            hu.len()
        )));
    }
    let bytes: Vec<u8> = hu
        .iter()
        .flat_map(|&v| (v.round().clamp(i16::MIN as f32, i16::MAX as f32) as i16).to_le_bytes())
        .collect();
    write_nifti(path, dims, geometry, 4, &bytes)
}

/// Writes a little-endian NIfTI-1 file: header for `dims`, `geometry` and data type `code`
/// (2 = uint8, 4 = int16, 16 = float32), then `data`; gzip for `.gz` paths; atomically.
fn write_nifti(path: &Path, dims3: [usize; 3], g: &Geometry, code: i16, data: &[u8]) -> Result<()> {
    let bpv = bytes_per_voxel(code).expect("a type this module writes");
    if data.len() != dims3.iter().product::<usize>() * bpv {
        return Err(Error::Shape(format!(
            "write_nifti: {} bytes for dims {dims3:?}",
            data.len()
        )));
    }
    let mut h = vec![0u8; 348];
    let put_i16 = |h: &mut Vec<u8>, o: usize, v: i16| h[o..o + 2].copy_from_slice(&v.to_le_bytes());
    let put_f32 = |h: &mut Vec<u8>, o: usize, v: f32| h[o..o + 4].copy_from_slice(&v.to_le_bytes());
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    if dims3.iter().any(|&d| d == 0 || d > i16::MAX as usize) {
        return Err(Error::Shape(format!(
            "write_nifti: dims {dims3:?} must be within 1..=32767"
        )));
    }
    let dims = [
        3i16,
        dims3[0] as i16,
        dims3[1] as i16,
        dims3[2] as i16,
        1,
        1,
        1,
        1,
    ];
    for (k, &d) in dims.iter().enumerate() {
        put_i16(&mut h, 40 + 2 * k, d);
    }
    put_i16(&mut h, 70, code);
    put_i16(&mut h, 72, (bpv * 8) as i16);
    for (k, &p) in g.pixdim.iter().enumerate() {
        put_f32(&mut h, 76 + 4 * k, p);
    }
    put_f32(&mut h, 108, 352.0); // vox_offset
    put_f32(&mut h, 112, 1.0); // scl_slope
    h[123] = g.xyzt_units;
    put_i16(&mut h, 252, g.qform_code);
    put_i16(&mut h, 254, g.sform_code);
    for k in 0..3 {
        put_f32(&mut h, 256 + 4 * k, g.quatern[k]);
        put_f32(&mut h, 268 + 4 * k, g.qoffset[k]);
    }
    for (r, row) in g.srow.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            put_f32(&mut h, 280 + 16 * r + 4 * c, v);
        }
    }
    h[344..348].copy_from_slice(b"n+1\0");
    let mut bytes = h;
    bytes.extend_from_slice(&[0, 0, 0, 0]); // no extensions
    bytes.extend_from_slice(data);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or("labels");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let f = std::fs::File::create(&tmp)?;
        if is_gz(path) {
            let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::default());
            enc.write_all(&bytes)?;
            enc.finish()?.sync_all()?;
        } else {
            let mut f = f;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}
