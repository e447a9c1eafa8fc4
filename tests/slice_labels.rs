//! Training from image-level labels: a CSV of slice labels over organ-only label maps (no
//! tumour masks for training), NIfTI files and DICOM series, then `segment` and `evaluate` on
//! the run; and the CSV's problems as errors naming the file and the row.

use coin::data::bake::{bake_tumours, BakeCfg};
use coin::data::nifti::{write_hu, write_labels};
use coin::data::phantom::{patient, write_dataset_as, PhantomSpec, ScanFormat};
use coin::data::tumour::TumourParams;
use coin::data::Window;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coin-csv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn spec() -> PhantomSpec {
    PhantomSpec {
        nz: 16,
        seed: 777,
        ..PhantomSpec::default()
    }
}

/// Kidney voxels per axial slice of a 0/1 label volume.
fn organ_per_slice(labels: &coin::data::Volume) -> Vec<usize> {
    let [nx, ny, nz] = labels.dims;
    (0..nz)
        .map(|k| {
            labels.data[k * nx * ny..(k + 1) * nx * ny]
                .iter()
                .filter(|&&v| v > 0.0)
                .count()
        })
        .collect()
}

/// Six training and two test patients in the TotalSegmentator layout with tumours baked into
/// some kidney slices; the training label maps hold the kidneys only, the test maps also the
/// baked tumours (2); patient 7 is tumour-free and labelled whole. Returns the CSV.
fn nifti_data(root: &Path) -> PathBuf {
    let mut csv = String::from("case,slice,label\n");
    for p in 0..8u64 {
        let pat = patient(&spec(), p);
        let split = if p < 6 { "train" } else { "test" };
        let name = format!("patient_{p:03}.nii.gz");
        let labels_path = root.join("nnUNet_predictions").join(&name);
        let organ: Vec<u8> = pat.labels.data.iter().map(|&v| v as u8).collect();
        if p == 7 {
            write_hu(
                &root.join(split).join(&name),
                &pat.image.data,
                pat.image.dims,
                &pat.image.geometry,
            )
            .unwrap();
            write_labels(&labels_path, &organ, &pat.image).unwrap();
            csv += "patient_007,,normal\n";
            continue;
        }
        let cfg = BakeCfg {
            axis: 2,
            kidney: vec![1],
            window: Window::hu(-160.0, 240.0).unwrap(),
            params: TumourParams::default(),
            tumour_id: 2,
            seed: 100 + p,
        };
        let b = bake_tumours(&pat.image, &pat.labels, &cfg).unwrap();
        let im = &b.image;
        write_hu(
            &root.join(split).join(&name),
            &im.data,
            im.dims,
            &im.geometry,
        )
        .unwrap();
        let ids: Vec<u8> = if split == "test" {
            b.labels.data.iter().map(|&v| v as u8).collect()
        } else {
            organ
        };
        write_labels(&labels_path, &ids, &pat.image).unwrap();
        for (k, n) in organ_per_slice(&pat.labels).into_iter().enumerate() {
            if n > 0 {
                let label = if b.slices.contains(&k) {
                    "abnormal"
                } else {
                    "normal"
                };
                csv += &format!("patient_{p:03},{k},{label}\n");
            }
        }
    }
    let path = root.join("labels.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// `smoke` with the CPU presets' selection (best validation IoU), so a run without validation
/// masks must fall back to the label-free selection by itself.
fn config(d: &Path) -> PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_train"))
        .args(["--preset", "smoke", "--print-config"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap().replacen(
        "select = \"last\"",
        "select = \"best-val-iou\"",
        1,
    );
    assert!(text.contains("best-val-iou"));
    let p = d.join("smoke.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn train(d: &Path, data: &Path, csv: &Path, run: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_train"))
        .arg("--config")
        .arg(config(d))
        .arg("--data")
        .arg(data)
        .arg("--labels-csv")
        .arg(csv)
        .arg("--out")
        .arg(run)
        .args(["--device", "cpu", "--threads", "2"])
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn summary(run: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

fn segment(run: &Path, input: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_segment"))
        .arg("--model")
        .arg(run)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(out)
        .args(["--device", "cpu", "--threads", "2", "--allow-empty"])
        .output()
        .unwrap()
}

#[test]
fn a_run_trains_from_slice_labels_without_training_masks_and_opens_in_segment_and_evaluate() {
    let d = dir("nifti");
    let data = d.join("data");
    let csv = nifti_data(&data);
    let run = d.join("run");
    let o = train(&d, &data, &csv, &run);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(said.contains("slice labels from"), "{said}");
    assert!(
        said.contains("validation split has no tumour masks"),
        "{said}"
    );
    assert!(
        said.contains("the label-free selection chooses the model"),
        "{said}"
    );
    assert!(said.contains("selection label-free"), "{said}");
    // The CSV labels every slice with kidney, the kidney's thin ends included: those are
    // below the kidney filter, dropped with a counted warning.
    assert!(
        said.contains("labelled slices of the training split have fewer organ pixels"),
        "{said}"
    );
    let s = summary(&run);
    // The test patients' label maps hold the baked tumours: IoU is computed there.
    assert!(s["test_iou"].is_number(), "{s}");
    assert_eq!(s["selections"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["selections"][0]["select"], "label-free");
    let m = coin::train::TrainedModel::open(&run, None, coin::Device::Cpu).unwrap();
    assert!(m.checkpoint.starts_with(run.join("best-label-free")));
    let mask = d.join("mask.nii.gz");
    let o = segment(&run, &data.join("test/patient_006.nii.gz"), &mask);
    assert!(o.status.success(), "{}", text(&o));
    assert!(mask.is_file());
    let o = Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .arg("--model")
        .arg(&run)
        .arg("--out")
        .arg(d.join("report"))
        .args([
            "--baselines",
            "layercam",
            "--device",
            "cpu",
            "--threads",
            "2",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(d.join("report/report.json").is_file());
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn dicom_series_train_from_slice_labels_by_index_and_by_uid() {
    let d = dir("dicom");
    let data = d.join("data");
    let images = write_dataset_as(&data, &spec(), 6, 2, ScanFormat::Dicom).unwrap();
    // Labels by the kidney's axial extent: abnormal in its middle third, normal elsewhere (a
    // pipeline check, not a task); patient 1 by SOP Instance UID.
    let mut csv = String::from("case,slice,sop_instance_uid,label\n");
    for (p, series) in images.iter().enumerate() {
        let name = series.file_name().unwrap().to_string_lossy().to_string();
        let labels = coin::data::read_volume(
            &data
                .join("nnUNet_predictions")
                .join(format!("{name}.nii.gz")),
        )
        .unwrap();
        let organ: Vec<usize> = organ_per_slice(&labels)
            .into_iter()
            .enumerate()
            .filter(|x| x.1 > 0)
            .map(|x| x.0)
            .collect();
        let uids = coin::data::dicom::slice_uids(series, None).unwrap();
        let third = organ.len() / 3;
        for (j, &k) in organ.iter().enumerate() {
            let label = (third..2 * third).contains(&j) as u8;
            csv += &match p {
                1 => format!("{name},,{},{label}\n", uids[k]),
                _ => format!("{name},{k},,{label}\n"),
            };
        }
    }
    let csv_path = d.join("labels.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let run = d.join("run");
    let o = train(&d, &data, &csv_path, &run);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(
        said.contains("the test split has no tumour masks"),
        "{said}"
    );
    let s = summary(&run);
    assert!(
        s["test_iou"].is_null() && s["layercam_iou"].is_null(),
        "{s}"
    );
    assert!(
        s["flip_rate"].is_number() && s["classifier_accuracy"].is_number(),
        "{s}"
    );
    assert_eq!(
        s["coin_select"], "label-free",
        "chosen without masks, unasked"
    );
    assert_eq!(s["coin_chosen_step"], s["selections"][0]["step"]);
    let o = segment(&run, &images[7], &d.join("mask.nii.gz"));
    assert!(o.status.success(), "{}", text(&o));
    // `evaluate` scores against masks: without any it says so.
    let o = Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .arg("--model")
        .arg(&run)
        .arg("--out")
        .arg(d.join("report"))
        .args(["--baselines", "none", "--device", "cpu", "--threads", "2"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("have no tumour masks"), "{}", text(&o));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn csv_problems_name_the_file_and_the_row() {
    let d = dir("bad");
    let data = d.join("data");
    let csv = nifti_data(&data);
    let good = std::fs::read_to_string(&csv).unwrap();
    let run = d.join("run");
    let lines: Vec<&str> = good.lines().collect();
    let empty = organ_per_slice(&patient(&spec(), 0).labels)
        .iter()
        .position(|&n| n == 0)
        .expect("a slice without kidney");
    for (edit, says) in [
        (format!("{good}ghost,3,normal\n"), "no case ghost"),
        (format!("{good}patient_000,99,normal\n"), "has no slice 99"),
        (
            format!("{good}patient_000,{empty},normal\n"),
            "has no organ voxels",
        ),
        (format!("{good}{}\n", lines[1]), "already labelled in row 2"),
        (
            good.replacen(",abnormal", ",tumour", 1),
            "unknown label 'tumour'",
        ),
        (
            lines
                .iter()
                .map(|l| l.replace("abnormal", "normal") + "\n")
                .collect::<String>(),
            "are all normal",
        ),
    ] {
        std::fs::write(&csv, &edit).unwrap();
        let o = train(&d, &data, &csv, &run);
        let said = text(&o);
        assert!(!o.status.success(), "{says}: {said}");
        assert!(
            said.contains("labels.csv") && said.contains(says),
            "{says}: {said}"
        );
        let _ = std::fs::remove_dir_all(&run);
    }
    std::fs::remove_dir_all(&d).ok();
}
