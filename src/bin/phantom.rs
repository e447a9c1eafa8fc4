//! `cargo run --release --bin phantom -- [--out DIR] [--train N] [--test N] [--seed N] [--sheet FILE]`
//!
//! Writes the built-in abdominal CT phantom as NIfTI in the paper's TotalSegmentator layout:
//! `DIR/{train,test}/patient_NNN.nii.gz` (int16 HU) and `DIR/nnUNet_predictions/patient_NNN.nii.gz`
//! (uint8, kidney = 1); optionally a PNG contact sheet of each patient's largest kidney slice
//! (W400 L40). Every file is read back through the same loader as real data.

use coin::data::phantom::{contact_sheet, patient, write_dataset, PhantomSpec};
use coin::data::read_volume;
use std::path::PathBuf;

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
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => out = PathBuf::from(val()?),
            "--train" => n_train = val()?.parse().map_err(|e| format!("--train: {e}"))?,
            "--test" => n_test = val()?.parse().map_err(|e| format!("--test: {e}"))?,
            "--seed" => seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--sheet" => sheet = Some(PathBuf::from(val()?)),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let spec = PhantomSpec {
        seed,
        ..PhantomSpec::default()
    };
    let images = write_dataset(&out, &spec, n_train, n_test).map_err(|e| e.to_string())?;
    for img in &images {
        let back = read_volume(img).map_err(|e| e.to_string())?;
        println!("{} ({:?} voxels) and its labels", img.display(), back.dims);
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
