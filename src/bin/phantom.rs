//! `cargo run --release --bin phantom -- [--out DIR] [--train N] [--test N] [--seed N] [--slices N]
//! [--sheet FILE] [--bake-tumours]`
//!
//! Writes the built-in abdominal CT phantom as NIfTI in the paper's TotalSegmentator layout:
//! `DIR/{train,test}/patient_NNN.nii.gz` (int16 HU) and `DIR/nnUNet_predictions/patient_NNN.nii.gz`
//! (uint8, kidney = 1); optionally a PNG contact sheet of each patient's largest kidney slice
//! (W400 L40). Every file is read back through the same loader as real data. `--bake-tumours`
//! also writes each test patient with the paper's synthetic tumours baked into its HU
//! (`DIR/tumours/patient_NNN.nii.gz`, labels with tumour = 2 in `DIR/tumours/labels/`): scans
//! with a known answer for `segment`. The tumours' intensity is defined in a window:
//! `--bake-window LO,HI` (give a trained run's window, printed by `segment`), else the kidney
//! fingerprint of all the patients written, as `train` computes it.

use coin::data::bake::{bake_tumours, BakeCfg};
use coin::data::phantom::{contact_sheet, patient, write_dataset, PhantomSpec};
use coin::data::tumour::TumourParams;
use coin::data::{fingerprint, read_volume, write_hu, write_labels, Window};
use std::path::{Path, PathBuf};

fn main() {
    if let Err(e) = run() {
        eprintln!("phantom: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let (mut out, mut n_train, mut n_test, mut seed, mut sheet) = (
        PathBuf::from("data/phantom"),
        4u64,
        2u64,
        777u64,
        None::<PathBuf>,
    );
    let (mut slices, mut bake, mut bake_window) = (PhantomSpec::default().nz, false, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => out = PathBuf::from(val()?),
            "--train" => n_train = val()?.parse().map_err(|e| format!("--train: {e}"))?,
            "--test" => n_test = val()?.parse().map_err(|e| format!("--test: {e}"))?,
            "--seed" => seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--sheet" => sheet = Some(PathBuf::from(val()?)),
            "--slices" => slices = val()?.parse().map_err(|e| format!("--slices: {e}"))?,
            "--bake-tumours" => bake = true,
            "--bake-window" => {
                let v = val()?;
                let w: Vec<f32> = v
                    .split(',')
                    .map(|x| x.trim().parse::<f32>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--bake-window '{v}': {e}"))?;
                let [lo, hi] = w[..] else {
                    return Err(format!("--bake-window '{v}': expected LO,HI in HU"));
                };
                bake_window = Some(Window::hu(lo, hi).map_err(|e| e.to_string())?);
            }
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let spec = PhantomSpec {
        seed,
        nz: slices,
        ..PhantomSpec::default()
    };
    let images = write_dataset(&out, &spec, n_train, n_test).map_err(|e| e.to_string())?;
    for img in &images {
        let back = read_volume(img).map_err(|e| e.to_string())?;
        println!("{} ({:?} voxels) and its labels", img.display(), back.dims);
    }
    if bake {
        let window = match bake_window {
            Some(w) => w,
            None => kidney_window(&out, &images)?,
        };
        println!(
            "baking tumours in the window [{}, {}] HU",
            window.lo, window.hi
        );
        for img in &images[n_train as usize..] {
            bake_one(&out, img, window)?;
        }
    }
    if let Some(path) = sheet {
        let patients: Vec<_> = (0..n_train + n_test).map(|p| patient(&spec, p)).collect();
        let (px, w, h) = contact_sheet(&patients, -160.0, 240.0, 4);
        image::save_buffer(&path, &px, w as u32, h as u32, image::ExtendedColorType::L8)
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
