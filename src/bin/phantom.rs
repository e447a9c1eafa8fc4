//! `cargo run --release --bin phantom -- [--out DIR] [--train N] [--test N] [--seed N] [--slices N] [--dicom]
//! [--sheet FILE] [--bake-tumours] [--slice-mm MM] [--phase-mix N,V,A] [--kidney-scale S] [--noise-scale S]`
//!
//! Writes the built-in abdominal CT phantom as NIfTI in the paper's TotalSegmentator layout:
//! `DIR/{train,test}/patient_NNN.nii.gz` (int16 HU) and `DIR/nnUNet_predictions/patient_NNN.nii.gz`
//! (uint8, kidney = 1); optionally a PNG contact sheet of each patient's largest kidney slice
//! (W400 L40). Every file is read back through the same loader as real data. `--bake-tumours`
//! also writes each test patient with the paper's synthetic tumours baked into its HU
//! (`DIR/tumours/patient_NNN.nii.gz`, labels with tumour = 2 in `DIR/tumours/labels/`): scans
//! with a known answer for `segment`. The tumours' intensity is defined in a window:
//! `--bake-window LO,HI` (give a trained run's window, printed by `segment`), else the kidney
//! fingerprint of all the patients written, as `train` computes it. The family knobs
//! (`--slice-mm`, `--phase-mix`, `--kidney-scale`, `--noise-scale`) make phantoms unlike the
//! built-in one, for measuring how results hold on data nobody tuned for.

use clap::Parser;
use coin::data::bake::{bake_tumours, BakeCfg};
use coin::data::phantom::{
    contact_sheet, patient, write_dataset_as, Family, PhantomSpec, ScanFormat,
};
use coin::data::tumour::TumourParams;
use coin::data::{fingerprint, read_scan, read_volume, write_hu, write_labels, Window};
use std::path::{Path, PathBuf};

/// Write the built-in abdominal CT phantom as NIfTI in the paper's TotalSegmentator layout.
///
/// `OUT/{train,test}/patient_NNN.nii.gz` (int16 HU) and `OUT/nnUNet_predictions/` (uint8,
/// kidney = 1), each file read back through the loader real scans use.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    /// The dataset folder.
    #[arg(long, default_value = "data/phantom")]
    out: PathBuf,
    /// Patients in the training split.
    #[arg(long, default_value_t = 4)]
    train: u64,
    /// Patients in the test split.
    #[arg(long, default_value_t = 2)]
    test: u64,
    /// The phantom's seed.
    #[arg(long, default_value_t = 777)]
    seed: u64,
    /// Axial slices per patient.
    #[arg(long, default_value_t = PhantomSpec::default().nz)]
    slices: usize,
    /// A PNG contact sheet of each patient's largest kidney slice (W400 L40).
    #[arg(long)]
    sheet: Option<PathBuf>,
    /// Also write each test patient with the paper's synthetic tumours baked into its HU
    /// (OUT/tumours/, labels with tumour = 2 in OUT/tumours/labels/): scans with a known
    /// answer for `segment`.
    #[arg(long)]
    bake_tumours: bool,
    /// The window LO,HI (HU) the baked tumours' intensity is defined in (give a trained run's
    /// window, printed by `segment`); default: the kidney fingerprint of all patients written,
    /// as `train` computes it.
    #[arg(long, value_parser = parse_window)]
    bake_window: Option<Window>,
    /// Write each patient as a DICOM CT series folder (OUT/{train,test}/patient_NNN/, one
    /// uncompressed file per slice) instead of a NIfTI file; the labels stay NIfTI, on the grid
    /// the series reads onto.
    #[arg(long, conflicts_with = "bake_tumours")]
    dicom: bool,
    /// Slice thickness (mm) along the axial axis (the built-in phantom: 3).
    #[arg(long, default_value_t = PhantomSpec::default().spacing[2])]
    slice_mm: f32,
    /// Relative frequencies N,V,A of the native, venous and arterial contrast phases.
    #[arg(long, value_parser = parse_mix, default_value = "1,1,1")]
    phase_mix: [f64; 3],
    /// Scales the kidneys' size (in plane and along the axis).
    #[arg(long, default_value_t = 1.0)]
    kidney_scale: f64,
    /// Scales the image noise's standard deviation (8–18 HU per patient at 1).
    #[arg(long, default_value_t = 1.0)]
    noise_scale: f64,
}

fn parse_mix(v: &str) -> Result<[f64; 3], String> {
    let w: Vec<f64> = v
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("'{v}': {e}"))?;
    match w[..] {
        [n, ven, a] if w.iter().all(|x| *x >= 0.0 && x.is_finite()) && n + ven + a > 0.0 => {
            Ok([n, ven, a])
        }
        _ => Err(format!(
            "'{v}': expected three non-negative weights N,V,A, not all zero"
        )),
    }
}

fn positive(what: &str, v: f64) -> Result<f64, String> {
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(format!("--{what} must be positive, got {v}"))
    }
}

fn parse_window(v: &str) -> Result<Window, String> {
    let w: Vec<f32> = v
        .split(',')
        .map(|x| x.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("'{v}': {e}"))?;
    let [lo, hi] = w[..] else {
        return Err(format!("'{v}': expected LO,HI in HU"));
    };
    Window::hu(lo, hi).map_err(|e| e.to_string())
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("phantom: {e}");
        std::process::exit(1);
    }
}

fn run(a: Args) -> Result<(), String> {
    let (out, n_train, n_test) = (&a.out, a.train, a.test);
    let d = PhantomSpec::default();
    let spec = PhantomSpec {
        seed: a.seed,
        nz: a.slices,
        spacing: [
            d.spacing[0],
            d.spacing[1],
            positive("slice-mm", a.slice_mm as f64)? as f32,
        ],
        family: Family {
            phase_mix: a.phase_mix,
            kidney_scale: positive("kidney-scale", a.kidney_scale)?,
            noise_scale: positive("noise-scale", a.noise_scale)?,
        },
        ..d
    };
    let format = if a.dicom {
        ScanFormat::Dicom
    } else {
        ScanFormat::Nifti
    };
    let images =
        write_dataset_as(out, &spec, n_train, n_test, format).map_err(|e| e.to_string())?;
    for img in &images {
        let back = read_scan(img, None).map_err(|e| e.to_string())?;
        println!("{} ({:?} voxels) and its labels", img.display(), back.dims);
    }
    if a.bake_tumours {
        let window = match a.bake_window {
            Some(w) => w,
            None => kidney_window(out, &images)?,
        };
        println!(
            "baking tumours in the window [{}, {}] HU",
            window.lo, window.hi
        );
        for img in &images[n_train as usize..] {
            bake_one(out, img, window)?;
        }
    }
    if let Some(path) = &a.sheet {
        let patients: Vec<_> = (0..n_train + n_test).map(|p| patient(&spec, p)).collect();
        let (px, w, h) = contact_sheet(&patients, -160.0, 240.0, 4);
        image::save_buffer(path, &px, w as u32, h as u32, image::ExtendedColorType::L8)
            .map_err(|e| e.to_string())?;
        println!("contact sheet: {}", path.display());
    }
    Ok(())
}

fn labels_of(out: &Path, img: &Path) -> PathBuf {
    out.join("nnUNet_predictions")
        .join(img.file_name().unwrap())
}

/// The kidney fingerprint's window over every written patient.
fn kidney_window(out: &Path, images: &[PathBuf]) -> Result<Window, String> {
    let e = |e: coin::Error| e.to_string();
    let mut vols = Vec::new();
    for img in images {
        vols.push((
            read_volume(img).map_err(e)?,
            read_volume(&labels_of(out, img)).map_err(e)?,
        ));
    }
    let refs: Vec<_> = vols.iter().map(|(a, b)| (a, b)).collect();
    let fp = fingerprint(&refs, &[1], 1_000_000 / refs.len().max(1), 1234).map_err(e)?;
    Window::from_fingerprint(&fp).map_err(e)
}

/// Writes `img` (a test patient) with baked tumours.
fn bake_one(out: &Path, img: &Path, window: Window) -> Result<(), String> {
    let e = |e: coin::Error| e.to_string();
    let name = img.file_name().unwrap();
    let v = read_volume(img).map_err(e)?;
    let l = read_volume(&labels_of(out, img)).map_err(e)?;
    let cfg = BakeCfg {
        axis: 2,
        kidney: vec![1],
        window,
        params: TumourParams::default(),
        tumour_id: 2,
        seed: 0xba6e,
    };
    let b = bake_tumours(&v, &l, &cfg).map_err(e)?;
    let dir = out.join("tumours");
    write_hu(
        &dir.join(name),
        &b.image.data,
        b.image.dims,
        &b.image.geometry,
    )
    .map_err(e)?;
    let ids: Vec<u8> = b.labels.data.iter().map(|&x| x as u8).collect();
    write_labels(&dir.join("labels").join(name), &ids, &v).map_err(e)?;
    println!(
        "{}: tumours baked into {} slices ({:?})",
        dir.join(name).display(),
        b.slices.len(),
        b.slices
    );
    Ok(())
}
