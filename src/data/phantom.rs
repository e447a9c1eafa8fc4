//! The built-in abdominal CT phantom: procedural volumes in HU on a fixed grid (default
//! 256 × 256 at 1.5 mm, 3 mm slices), with a kidney label map (label 1), so the default run
//! needs no download and still goes through the real NIfTI path.
//!
//! Each axial slice holds, from the outside in: air (−1000), a body ellipse with a
//! subcutaneous fat layer (−100) and a muscle wall (50), visceral fat (−90), a vertebra (cortex
//! 700, marrow 250) with its canal (10), the aorta, the liver (upper slices), bowel loops with
//! gas (−900) and two kidneys (cortex and medulla) whose size grows and shrinks across slices.
//! Organ HU follow a contrast phase drawn per patient — native, venous or arterial — so kidneys
//! do not always sit at the top of a window. Gaussian noise (σ 8–18 HU). Everything (body size,
//! kidney placement and extent, phase, noise) is drawn from a generator keyed by (seed, patient).

use super::nifti::{affine, Geometry, Volume};
use crate::rng::Rng;
use std::path::PathBuf;

/// The grid of the phantom.
#[derive(Clone, Copy, Debug)]
pub struct PhantomSpec {
    pub nx: usize,
    pub ny: usize,
    pub nz: usize,
    /// Voxel size (mm) along x, y, z.
    pub spacing: [f32; 3],
    pub seed: u64,
    /// How this phantom's patients differ from the built-in one's (the default: not at all).
    pub family: Family,
}

impl Default for PhantomSpec {
    fn default() -> Self {
        PhantomSpec {
            nx: 256,
            ny: 256,
            nz: 40,
            spacing: [1.5, 1.5, 3.0],
            seed: 777,
            family: Family::default(),
        }
    }
}

/// The knobs that make a phantom family: other data than the presets were tuned on. The
/// default is the built-in phantom (the same patients, voxel for voxel).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Family {
    /// Relative frequencies of the native, venous and arterial contrast phases (default
    /// equal).
    pub phase_mix: [f64; 3],
    /// Scales the kidneys' size (in-plane semi-axes and axial length).
    pub kidney_scale: f64,
    /// Scales the standard deviation of the image noise (8–18 HU per patient by default).
    pub noise_scale: f64,
}

impl Default for Family {
    fn default() -> Self {
        Family {
            phase_mix: [1.0, 1.0, 1.0],
            kidney_scale: 1.0,
            noise_scale: 1.0,
        }
    }
}

impl Family {
    /// The knobs as JSON keys for the dataset's stamp (empty for the default, so the built-in
    /// phantom's files stay valid).
    fn stamp(&self) -> String {
        if *self == Family::default() {
            return String::new();
        }
        format!(
            ",\"phase_mix\":{:?},\"kidney_scale\":{},\"noise_scale\":{}",
            self.phase_mix, self.kidney_scale, self.noise_scale
        )
    }

    /// A contrast phase drawn with the family's frequencies.
    fn phase(&self, r: &mut Rng) -> Phase {
        let phases = [Phase::Native, Phase::Venous, Phase::Arterial];
        if self.phase_mix == Family::default().phase_mix {
            return phases[r.below(3) as usize];
        }
        let total: f64 = self.phase_mix.iter().sum();
        let mut u = r.uniform() * total;
        for (p, w) in phases.iter().zip(self.phase_mix) {
            if u < w {
                return *p;
            }
            u -= w;
        }
        Phase::Arterial
    }
}

/// Contrast phase of a patient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Native,
    Venous,
    Arterial,
}

/// Organ HU for a phase: (aorta, liver, kidney cortex, kidney medulla).
fn organ_hu(p: Phase) -> (f64, f64, f64, f64) {
    match p {
        Phase::Native => (40.0, 55.0, 32.0, 28.0),
        Phase::Venous => (160.0, 110.0, 170.0, 150.0),
        Phase::Arterial => (300.0, 80.0, 210.0, 95.0),
    }
}

/// One patient: the image (HU), the kidney label map (0/1, as f32) and the phase.
pub struct Patient {
    pub image: Volume,
    pub labels: Volume,
    pub phase: Phase,
}

fn inside(x: f64, y: f64, cx: f64, cy: f64, a: f64, b: f64) -> f64 {
    ((x - cx) / a).powi(2) + ((y - cy) / b).powi(2)
}

/// Generates patient number `patient` of the stream `spec.seed`.
pub fn patient(spec: &PhantomSpec, patient: u64) -> Patient {
    let mut r = Rng::keyed(spec.seed, &[patient, 0x9a7]);
    let fam = spec.family;
    let phase = fam.phase(&mut r);
    let (aorta_hu, liver_hu, cortex_hu, medulla_hu) = organ_hu(phase);
    let (bx, by) = (r.uniform_range(140.0, 170.0), r.uniform_range(100.0, 125.0));
    let noise = r.uniform_range(8.0, 18.0) * fam.noise_scale;
    let ks = fam.kidney_scale;
    let (dx, dy, dz) = (
        spec.spacing[0] as f64,
        spec.spacing[1] as f64,
        spec.spacing[2] as f64,
    );
    let depth = spec.nz as f64 * dz;
    // Kidneys: centre (x, y), semi-axes (a, b), axial centre and half-length (mm).
    let kidneys: Vec<(f64, f64, f64, f64, f64, f64)> = [-1.0, 1.0]
        .iter()
        .map(|&side| {
            (
                side * r.uniform_range(50.0, 62.0),
                r.uniform_range(35.0, 50.0),
                r.uniform_range(24.0, 32.0) * ks,
                r.uniform_range(17.0, 22.0) * ks,
                depth * r.uniform_range(0.4, 0.6),
                r.uniform_range(0.28, 0.38) * depth * ks,
            )
        })
        .collect();
    let bowel: Vec<(f64, f64, f64)> = (0..5)
        .map(|_| {
            (
                r.uniform_range(-60.0, 60.0),
                r.uniform_range(-70.0, -20.0),
                r.uniform_range(9.0, 16.0),
            )
        })
        .collect();
    let liver_end = depth * r.uniform_range(0.45, 0.6);
    let mut img = Vec::with_capacity(spec.nx * spec.ny * spec.nz);
    let mut lab = Vec::with_capacity(spec.nx * spec.ny * spec.nz);
    for k in 0..spec.nz {
        let z = (k as f64 + 0.5) * dz;
        let mut rn = Rng::keyed(spec.seed, &[patient, k as u64, 0x5e]);
        for j in 0..spec.ny {
            let y = (j as f64 - spec.ny as f64 / 2.0) * dy;
            for i in 0..spec.nx {
                let x = (i as f64 - spec.nx as f64 / 2.0) * dx;
                let mut hu = -1000.0;
                let mut label = 0.0f32;
                let body = inside(x, y, 0.0, 0.0, bx, by);
                if body < 1.0 {
                    hu = if body > 0.86 {
                        -100.0 // subcutaneous fat
                    } else if body > 0.74 {
                        50.0 // muscle wall
                    } else {
                        -90.0 // visceral fat
                    };
                    if body <= 0.74 {
                        // Liver (upper slices), on the image's left.
                        if z < liver_end && inside(x, y, -55.0, -5.0, 62.0, 55.0) < 1.0 {
                            hu = liver_hu;
                        }
                        for &(cx, cy, rad) in &bowel {
                            let d = inside(x, y, cx, cy, rad, rad);
                            if d < 1.0 {
                                hu = if d < 0.5 { -900.0 } else { 40.0 };
                            }
                        }
                        // Aorta, anterior-left of the spine.
                        if inside(x, y, 12.0, 48.0, 11.0, 11.0) < 1.0 {
                            hu = aorta_hu;
                        }
                        for &(cx, cy, a, b, zc, half) in &kidneys {
                            let t = (z - zc) / half;
                            if t.abs() < 1.0 {
                                let s = (1.0 - t * t).sqrt();
                                let d = inside(x, y, cx, cy, a * s, b * s);
                                if d < 1.0 {
                                    hu = if d > 0.55 { cortex_hu } else { medulla_hu };
                                    label = 1.0;
                                }
                            }
                        }
                    }
                    // Vertebra (cortex, marrow) and spinal canal, posterior.
                    let v = inside(x, y, 0.0, 70.0, 20.0, 18.0);
                    if v < 1.0 {
                        hu = if v > 0.7 { 700.0 } else { 250.0 };
                        label = 0.0;
                    }
                    if inside(x, y, 0.0, 95.0, 8.0, 7.0) < 1.0 {
                        hu = 10.0;
                    }
                }
                img.push((hu + noise * rn.normal()) as f32);
                lab.push(label);
            }
        }
    }
    let geometry = Geometry {
        pixdim: [
            1.0,
            spec.spacing[0],
            spec.spacing[1],
            spec.spacing[2],
            1.0,
            1.0,
            1.0,
            1.0,
        ],
        qform_code: 1,
        sform_code: 1,
        quatern: [0.0; 3],
        qoffset: [
            -(spec.nx as f32) / 2.0 * spec.spacing[0],
            -(spec.ny as f32) / 2.0 * spec.spacing[1],
            0.0,
        ],
        srow: [
            [
                spec.spacing[0],
                0.0,
                0.0,
                -(spec.nx as f32) / 2.0 * spec.spacing[0],
            ],
            [
                0.0,
                spec.spacing[1],
                0.0,
                -(spec.ny as f32) / 2.0 * spec.spacing[1],
            ],
            [0.0, 0.0, spec.spacing[2], 0.0],
        ],
        xyzt_units: 2,
    };
    let mk = |data: Vec<f32>, name: &str| Volume {
        data,
        dims: [spec.nx, spec.ny, spec.nz],
        spacing: spec.spacing,
        affine: affine(&geometry),
        geometry: geometry.clone(),
        source: PathBuf::from(format!("phantom-{patient}-{name}")),
    };
    Patient {
        image: mk(img, "image"),
        labels: mk(lab, "labels"),
        phase,
    }
}

/// A contact sheet of axial slices (row-major 8-bit grey, `cols` tiles per row): for each
/// volume, the slice with the most kidney, windowed to [lo, hi] HU.
pub fn contact_sheet(
    patients: &[Patient],
    lo: f32,
    hi: f32,
    cols: usize,
) -> (Vec<u8>, usize, usize) {
    let Some(first) = patients.first() else {
        return (Vec::new(), 0, 0);
    };
    let [nx, ny, _] = first.image.dims;
    let rows = patients.len().div_ceil(cols.max(1));
    let (w, h) = (cols * nx, rows * ny);
    let mut sheet = vec![0u8; w * h];
    for (p, pat) in patients.iter().enumerate() {
        let [nx, ny, nz] = pat.image.dims;
        let plane = nx * ny;
        let k = (0..nz)
            .max_by_key(|&k| {
                pat.labels.data[k * plane..(k + 1) * plane]
                    .iter()
                    .filter(|&&l| l > 0.0)
                    .count()
            })
            .unwrap_or(0);
        let (ox, oy) = ((p % cols) * nx, (p / cols) * ny);
        for j in 0..ny {
            for i in 0..nx {
                let hu = pat.image.data[k * plane + j * nx + i];
                let g = ((hu.clamp(lo, hi) - lo) / (hi - lo) * 255.0).round() as u8;
                sheet[(oy + j) * w + ox + i] = g;
            }
        }
    }
    (sheet, w, h)
}

/// How the phantom stores its patients' scans (labels are NIfTI either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanFormat {
    /// `patient_NNN.nii.gz`, int16 HU.
    Nifti,
    /// A DICOM CT series folder `patient_NNN/`, one uncompressed int16 file per slice.
    Dicom,
}

/// Writes `n_train + n_test` phantom patients in the paper's TotalSegmentator layout:
/// `root/{train,test}/patient_NNN.nii.gz` (int16 HU) and the label maps (uint8, kidney = 1) under
/// the same names in `root/nnUNet_predictions/`. Patients 0..n_train are the training split.
/// A `phantom.json` records the spec; when it matches, existing files are kept.
pub fn write_dataset(
    root: &std::path::Path,
    spec: &PhantomSpec,
    n_train: u64,
    n_test: u64,
) -> crate::Result<Vec<std::path::PathBuf>> {
    write_dataset_as(root, spec, n_train, n_test, ScanFormat::Nifti)
}

/// [`write_dataset`] with the scans in `format`: a DICOM patient is the series folder
/// `root/{train,test}/patient_NNN/`, its labels `patient_NNN.nii.gz` on the grid the series
/// reads onto (its rows reversed, as dcm2niix's convention gives it). Returns the scans' paths.
pub fn write_dataset_as(
    root: &std::path::Path,
    spec: &PhantomSpec,
    n_train: u64,
    n_test: u64,
    format: ScanFormat,
) -> crate::Result<Vec<std::path::PathBuf>> {
    let format_key = match format {
        ScanFormat::Nifti => "",
        ScanFormat::Dicom => ",\"format\":\"dicom\"",
    };
    let stamp = format!(
        "{{\"nx\":{},\"ny\":{},\"nz\":{},\"spacing\":{:?},\"seed\":{},\"train\":{n_train},\"test\":{n_test}{format_key}{},\"version\":1}}",
        spec.nx, spec.ny, spec.nz, spec.spacing, spec.seed, spec.family.stamp()
    );
    let marker = root.join("phantom.json");
    let name = |p: u64| format!("patient_{p:03}");
    let split = |p: u64| if p < n_train { "train" } else { "test" };
    let images: Vec<_> = (0..n_train + n_test)
        .map(|p| match format {
            ScanFormat::Nifti => root.join(split(p)).join(format!("{}.nii.gz", name(p))),
            ScanFormat::Dicom => root.join(split(p)).join(name(p)),
        })
        .collect();
    let labels = |p: u64| {
        root.join("nnUNet_predictions")
            .join(format!("{}.nii.gz", name(p)))
    };
    let fresh = std::fs::read_to_string(&marker).is_ok_and(|s| s == stamp)
        && images.iter().all(|p| p.exists())
        && (0..n_train + n_test).all(|p| labels(p).is_file());
    if fresh {
        return Ok(images);
    }
    for (p, image) in (0..n_train + n_test).zip(&images) {
        let pat = patient(spec, p);
        match format {
            ScanFormat::Nifti => write_nifti_patient(&pat, image, &labels(p))?,
            ScanFormat::Dicom => {
                let uid_seed = spec.seed.wrapping_mul(1_000_003).wrapping_add(p);
                write_dicom_patient(&pat, image, &labels(p), &name(p), uid_seed)?
            }
        }
    }
    std::fs::write(&marker, stamp)?;
    Ok(images)
}

fn write_nifti_patient(
    pat: &Patient,
    image: &std::path::Path,
    labels: &std::path::Path,
) -> crate::Result<()> {
    use super::nifti::{write_hu, write_labels};
    let im = &pat.image;
    write_hu(image, &im.data, im.dims, &im.geometry)?;
    let ids: Vec<u8> = pat.labels.data.iter().map(|&l| l as u8).collect();
    write_labels(labels, &ids, im)
}

fn write_dicom_patient(
    pat: &Patient,
    dir: &std::path::Path,
    labels: &std::path::Path,
    name: &str,
    uid_seed: u64,
) -> crate::Result<()> {
    use super::dicom::{read_series, write_series, SeriesMeta};
    use super::nifti::write_labels;
    let meta = SeriesMeta {
        patient: &format!("PHANTOM^{name}"),
        uid_seed,
    };
    let im = &pat.image;
    write_series(dir, &im.data, im.dims, &im.affine, &meta)?;
    let series = read_series(dir, None)?;
    let [nx, ny, nz] = im.dims;
    let mut flipped = Vec::with_capacity(nx * ny * nz);
    for z in 0..nz {
        for y in 0..ny {
            let row = (ny - 1 - y + ny * z) * nx;
            flipped.extend(pat.labels.data[row..row + nx].iter().map(|&l| l as u8));
        }
    }
    write_labels(labels, &flipped, &series)
}
