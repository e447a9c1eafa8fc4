//! `cargo run --release --bin phantom -- [--out DIR] [--patients N] [--seed N] [--sheet FILE]`
//!
//! Writes the built-in abdominal CT phantom as NIfTI: `DIR/images/patient_NNN.nii.gz` (int16 HU)
//! and `DIR/labels/patient_NNN.nii.gz` (uint8, kidney = 1), the same file names in parallel
//! folders; optionally a PNG contact sheet of each patient's largest kidney slice (W400 L40).

use coin::data::phantom::{contact_sheet, patient, PhantomSpec};
use coin::data::{read_volume, write_hu, write_labels};
use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        eprintln!("phantom: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let (mut out, mut n, mut seed, mut sheet) =
        (PathBuf::from("data/phantom"), 4u64, 777u64, None::<PathBuf>);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => out = PathBuf::from(val()?),
            "--patients" => n = val()?.parse().map_err(|e| format!("--patients: {e}"))?,
            "--seed" => seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--sheet" => sheet = Some(PathBuf::from(val()?)),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let spec = PhantomSpec {
        seed,
        ..PhantomSpec::default()
    };
    let mut patients = Vec::new();
    for p in 0..n {
        let pat = patient(&spec, p);
        let name = format!("patient_{p:03}.nii.gz");
        let (img, lab) = (
            out.join("images").join(&name),
            out.join("labels").join(&name),
        );
        write_hu(&img, &pat.image.data, pat.image.dims, &pat.image.geometry)
            .map_err(|e| e.to_string())?;
        let labels: Vec<u8> = pat.labels.data.iter().map(|&l| l as u8).collect();
        write_labels(&lab, &labels, &pat.image).map_err(|e| e.to_string())?;
        // Read back through the same loader as real data.
        let back = read_volume(&img).map_err(|e| e.to_string())?;
        println!(
            "{} ({:?} phase, {:?} voxels) and its labels",
            img.display(),
            pat.phase,
            back.dims
        );
        patients.push(pat);
    }
    if let Some(path) = sheet {
        let (px, w, h) = contact_sheet(&patients, -160.0, 240.0, 4);
        image::save_buffer(&path, &px, w as u32, h as u32, image::ExtendedColorType::L8)
            .map_err(|e| e.to_string())?;
        println!("contact sheet: {}", path.display());
    }
    Ok(())
}
