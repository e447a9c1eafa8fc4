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
    assert!(discover(LayoutKind::TotalSegmentator, &r, Some("other_labels")).is_err());
    assert_eq!(LabelIds::paper().kidney, vec![1]);
    assert_eq!(LabelIds::totalsegmentator_multilabel().kidney, vec![2, 3]);
    let empty = root("empty");
    assert!(discover(LayoutKind::NnUnet, &empty, None).is_err());
    assert!(discover(LayoutKind::Kits, &empty.join("nope"), None)
        .unwrap_err()
        .to_string()
        .contains("does not exist"));
}
