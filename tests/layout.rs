//! Dataset layouts: discovery, splits, label sets, and missing files as clear errors.

use coin::data::layout::{apply_split_lists, discover, LabelIds, LayoutKind, Split};
use std::path::{Path, PathBuf};

fn root(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coin-layout-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn touch(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, b"x").unwrap();
}

#[test]
fn kits_layout() {
    let r = root("kits");
    for c in ["case_00002", "case_00000"] {
        touch(&r.join(c).join("imaging.nii.gz"));
        touch(&r.join(c).join("segmentation.nii.gz"));
    }
    touch(&r.join("README.txt"));
    let cases = discover(LayoutKind::Kits, &r, None).unwrap();
    assert_eq!(
        cases.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["case_00000", "case_00002"]
    );
    assert_eq!(LayoutKind::Kits.axial_axis(), 0);
    std::fs::remove_file(r.join("case_00002/segmentation.nii.gz")).unwrap();
    let e = discover(LayoutKind::Kits, &r, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("case_00002") && e.contains("missing"), "{e}");
}

#[test]
fn a_labels_dir_replaces_each_layouts_own_label_maps() {
    let r = root("labels-dir");
    let own = r.join("organ_masks");
    // KiTS: case folders without segmentation.nii.gz, the maps by case name elsewhere.
    for c in ["case_00000", "case_00001"] {
        touch(&r.join("kits").join(c).join("imaging.nii.gz"));
        touch(&own.join(format!("{c}.nii.gz")));
    }
    let cases = discover(LayoutKind::Kits, &r.join("kits"), Some(&own)).unwrap();
    assert_eq!(cases[1].labels, own.join("case_00001.nii.gz"));
    // nnU-Net: no labelsTr at all; a relative folder is under the root.
    touch(&r.join("nn/imagesTr/a_0000.nii.gz"));
    touch(&r.join("nn/masks/a.nii.gz"));
    let cases = discover(LayoutKind::NnUnet, &r.join("nn"), Some(Path::new("masks"))).unwrap();
    assert_eq!(cases[0].labels, r.join("nn/masks/a.nii.gz"));
    // TotalSegmentator: the image's name in the folder given.
    touch(&r.join("ts/train/p1.nii.gz"));
    touch(&r.join("ts/test/p2.nii.gz"));
    for p in ["p1", "p2"] {
        touch(&own.join(format!("{p}.nii.gz")));
    }
    let cases = discover(LayoutKind::TotalSegmentator, &r.join("ts"), Some(&own)).unwrap();
    let p1 = cases.iter().find(|c| c.id.ends_with("p1.nii.gz")).unwrap();
    assert_eq!(p1.labels, own.join("p1.nii.gz"));
    // A missing map names the file it looked for.
    std::fs::remove_file(own.join("case_00000.nii.gz")).unwrap();
    let e = discover(LayoutKind::Kits, &r.join("kits"), Some(&own))
        .unwrap_err()
        .to_string();
    assert!(e.contains("organ_masks") && e.contains("case_00000"), "{e}");
}

#[test]
fn nnunet_layout_with_split_lists() {
    let r = root("nnunet");
    for c in ["tuh_case_001", "control_007", "tuh_case_002"] {
        touch(&r.join("imagesTr").join(format!("{c}_0000.nii.gz")));
        touch(&r.join("labelsTr").join(format!("{c}.nii.gz")));
    }
    let mut cases = discover(LayoutKind::NnUnet, &r, None).unwrap();
    assert_eq!(cases.len(), 3);
    assert_eq!(cases[0].id, "control_007");
    std::fs::write(
        r.join("train_scans.csv"),
        "file\ntuh_case_001_0000.nii.gz\ncontrol_007_0000.nii.gz\n",
    )
    .unwrap();
    std::fs::write(r.join("test_scans.csv"), "file\ntuh_case_002_0000.nii.gz\n").unwrap();
    apply_split_lists(
        &mut cases,
        &r.join("train_scans.csv"),
        &r.join("test_scans.csv"),
    )
    .unwrap();
    let split = |id: &str| cases.iter().find(|c| c.id == id).unwrap().split;
    assert_eq!(split("tuh_case_001"), Some(Split::Train));
    assert_eq!(split("tuh_case_002"), Some(Split::Test));
    std::fs::write(r.join("test_scans.csv"), "tuh_case_001_0000.nii.gz\n").unwrap();
    assert!(apply_split_lists(
        &mut cases,
        &r.join("train_scans.csv"),
        &r.join("test_scans.csv")
    )
    .is_err());
}

#[test]
fn totalsegmentator_layout_and_label_sets() {
    let r = root("ts");
    for (split, group, name) in [
        ("train", "tumor", "s0011.nii.gz"),
        ("train", "control", "s0002.nii.gz"),
        ("test", "cyst", "s0100.nii.gz"),
    ] {
        touch(&r.join(split).join(group).join(name));
        touch(&r.join("nnUNet_predictions").join(name));
    }
    let cases = discover(LayoutKind::TotalSegmentator, &r, None).unwrap();
    assert_eq!(cases.len(), 3);
    assert_eq!(
        cases
            .iter()
            .filter(|c| c.split == Some(Split::Train))
            .count(),
        2
    );
    assert!(cases
        .iter()
        .all(|c| c.labels.starts_with(r.join("nnUNet_predictions"))));
    assert!(discover(
        LayoutKind::TotalSegmentator,
        &r,
        Some(Path::new("other_labels"))
    )
    .is_err());
    assert_eq!(LabelIds::paper().kidney, vec![1]);
    assert_eq!(LabelIds::totalsegmentator_multilabel().kidney, vec![2, 3]);
    let empty = root("empty");
    assert!(discover(LayoutKind::NnUnet, &empty, None).is_err());
    assert!(discover(LayoutKind::Kits, &empty.join("nope"), None)
        .unwrap_err()
        .to_string()
        .contains("does not exist"));
}

/// A DICOM series folder: one file that starts as DICOM Part 10 does (discovery looks no
/// further; the reader is tested in tests/dicom.rs).
fn series(dir: &Path) {
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    touch(&dir.join("IM00001.dcm"));
    std::fs::write(dir.join("IM00001.dcm"), bytes).unwrap();
}

/// Every layout takes DICOM series folders as cases beside NIfTI files: the folder is the image,
/// its name the case's (and, for TotalSegmentator, its label map's: `S` → `S.nii.gz`); a
/// folder without DICOM files is not a case.
#[test]
fn series_folders_are_cases_beside_nifti_files() {
    let r = root("series-ts");
    touch(&r.join("train/nifti_case.nii.gz"));
    series(&r.join("train/scanner/dicom_case"));
    std::fs::create_dir_all(r.join("train/empty_folder")).unwrap();
    for n in ["nifti_case", "dicom_case"] {
        touch(&r.join(format!("nnUNet_predictions/{n}.nii.gz")));
    }
    let cases = discover(LayoutKind::TotalSegmentator, &r, None).unwrap();
    let got: Vec<_> = cases
        .iter()
        .map(|c| (c.id.as_str(), c.image.is_dir(), c.labels.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "train/nifti_case.nii.gz",
                false,
                r.join("nnUNet_predictions/nifti_case.nii.gz")
            ),
            (
                "train/scanner/dicom_case",
                true,
                r.join("nnUNet_predictions/dicom_case.nii.gz")
            ),
        ]
    );

    let r = root("series-nnunet");
    touch(&r.join("imagesTr/nifti_case_0000.nii.gz"));
    series(&r.join("imagesTr/dicom_case"));
    for n in ["nifti_case", "dicom_case"] {
        touch(&r.join(format!("labelsTr/{n}.nii.gz")));
    }
    let cases = discover(LayoutKind::NnUnet, &r, None).unwrap();
    let ids: Vec<_> = cases
        .iter()
        .map(|c| (c.id.as_str(), c.image.is_dir()))
        .collect();
    assert_eq!(ids, [("dicom_case", true), ("nifti_case", false)]);

    let r = root("series-kits");
    touch(&r.join("case_00000/imaging.nii.gz"));
    series(&r.join("case_00001/imaging"));
    for c in ["case_00000", "case_00001"] {
        touch(&r.join(c).join("segmentation.nii.gz"));
    }
    let cases = discover(LayoutKind::Kits, &r, None).unwrap();
    let ids: Vec<_> = cases
        .iter()
        .map(|c| (c.id.as_str(), c.image.is_dir()))
        .collect();
    assert_eq!(ids, [("case_00000", false), ("case_00001", true)]);
}
