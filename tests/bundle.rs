//! Shareable results: `export` writes the smoke run as one bundle a quarter of the run folder's
//! size or less, `segment` with the bundle writes the same mask as with the run folder, the
//! sidecar beside each mask says what made it, the preview decodes, and a bundle of another
//! format is refused with both versions named.

use crate::common::files::{phantom_pair, smoke_model};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coin-bundle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn segment(model: &Path, input: &Path, organ: &Path, out: &Path) -> Output {
    segment_with(model, input, organ, out, &[])
}

/// `segment` as [`segment`] runs it, with `extra` arguments.
fn segment_with(model: &Path, input: &Path, organ: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_segment"))
        .arg("--model")
        .arg(model)
        .arg("--input")
        .arg(input)
        .arg("--organ-mask")
        .arg(organ)
        .arg("--output")
        .arg(out)
        .args([
            "--device",
            "cpu",
            "--threads",
            "2",
            "--preview",
            "--threshold",
            "0.02",
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn size_of(p: &Path) -> u64 {
    if p.is_file() {
        return std::fs::metadata(p).unwrap().len();
    }
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| size_of(&e.unwrap().path()))
        .sum()
}

#[test]
fn a_bundle_segments_as_its_run_does_and_every_mask_has_a_sidecar_and_preview() {
    let run = smoke_model();
    let d = dir("export");
    let bundle = d.join("model.coin");
    let o = Command::new(env!("CARGO_BIN_EXE_export"))
        .arg("--model")
        .arg(run)
        .arg("--out")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let (b, r) = (size_of(&bundle), size_of(run));
    assert!(4 * b <= r, "bundle {b} bytes, run folder {r}");
    let card = std::fs::read_to_string(d.join("model.md")).unwrap();
    assert!(
        card.contains("not a medical device") && card.contains("does not transfer"),
        "{card}"
    );
    // No path of the training machine inside.
    let raw = String::from_utf8_lossy(&std::fs::read(&bundle).unwrap()).to_string();
    let root = std::env::temp_dir().display().to_string();
    assert!(
        !raw.contains(&root) && !raw.contains(env!("CARGO_MANIFEST_DIR")),
        "a path leaked"
    );

    let (img, organ) = phantom_pair(&d);
    let (by_run, by_bundle) = (d.join("run-mask.nii.gz"), d.join("bundle-mask.nii.gz"));
    let o = segment(run, &img, &organ, &by_run);
    assert!(o.status.success(), "{}", text(&o));
    let o = segment(&bundle, &img, &organ, &by_bundle);
    assert!(o.status.success(), "{}", text(&o));
    let (a, b) = (
        coin::data::read_volume(&by_run).unwrap(),
        coin::data::read_volume(&by_bundle).unwrap(),
    );
    assert_eq!(a.data, b.data, "the bundle's mask differs from the run's");
    assert!(
        a.data.iter().any(|&v| v > 0.0),
        "a mask with findings (threshold 0.02)"
    );

    let side: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("bundle-mask.json")).unwrap())
            .unwrap();
    for k in [
        "input",
        "model",
        "software_version",
        "device",
        "threshold",
        "postprocess",
        "window_hu",
        "orientation",
        "slices_processed",
        "slices_skipped",
        "skipped_because",
        "components",
        "mask_ml",
        "seconds",
    ] {
        assert!(side.get(k).is_some(), "sidecar lacks {k}: {side}");
    }
    assert_eq!(side["input"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(side["threshold"], 0.02);
    let voxels: f64 = a.data.iter().filter(|&&v| v > 0.0).count() as f64;
    let comp_voxels: u64 = side["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["voxels"].as_u64().unwrap())
        .sum();
    assert_eq!(comp_voxels as f64, voxels, "components cover the mask");
    let png = image::open(d.join("bundle-mask.png")).unwrap();
    assert!(png.width() > 0 && png.height() > 0);

    // Another format version is refused, naming both.
    let (tensors, mut meta) =
        coin::io::load_tensors_with_metadata(&bundle, coin::Device::Cpu).unwrap();
    meta.insert("coin_bundle_format".into(), "99".into());
    let future = d.join("future.coin");
    coin::io::save_tensors_with_metadata(&future, &tensors, Some(meta)).unwrap();
    let o = segment(&future, &img, &organ, &d.join("x.nii.gz"));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("bundle format 99") && text(&o).contains("reads format 1"),
        "{}",
        text(&o)
    );
    // A bundle holds one model: no other checkpoint of it can be asked for.
    let o = segment_with(
        &bundle,
        &img,
        &organ,
        &d.join("y.nii.gz"),
        &["--checkpoint", "last"],
    );
    assert!(
        !o.status.success() && text(&o).contains("holds one model"),
        "{}",
        text(&o)
    );
    // evaluate needs data to evaluate a bundle on.
    let o = Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .arg("--model")
        .arg(&bundle)
        .arg("--out")
        .arg(d.join("report"))
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    assert!(
        !o.status.success() && text(&o).contains("--data"),
        "{}",
        text(&o)
    );
    std::fs::remove_dir_all(&d).ok();
}
