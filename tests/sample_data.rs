//! The reader on real files (scripts/fetch-sample-data.sh): TotalSegmentator's test CT and
//! label map, and nibabel's NIfTI edge cases. Without the files these tests print that they
//! skipped; with COIN_REQUIRE_SAMPLE_DATA=1 (CI) a missing file is a failure.

use coin::data::slices::{cut, kidney_slices};
use coin::data::tumour::{insert, Outcome, TumourParams};
use coin::data::{read_volume, Window};
use coin::rng::Rng;

use crate::common::files::sample;

#[test]
fn totalsegmentator_example_ct() {
    let Some(p) = sample("totalsegmentator/example_ct.nii.gz") else {
        return;
    };
    let v = read_volume(&p).unwrap();
    assert_eq!(v.dims, [122, 101, 112]);
    assert_eq!(v.spacing, [3.0, 3.0, 3.0]);
    let (min, max) = v
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert_eq!((min, max), (-1207.0, 3382.0));
    assert_eq!(v.geometry.sform_code, 2, "the affine comes from the sform");
    assert_eq!(v.affine[0][0].abs(), 3.0);
    // example_ct_sm is slices 82..111 of example_ct, voxel for voxel.
    let Some(sm) = sample("totalsegmentator/example_ct_sm.nii.gz") else {
        return;
    };
    let sm = read_volume(&sm).unwrap();
    assert_eq!(sm.dims, [122, 101, 30]);
    let plane = 122 * 101;
    assert_eq!(&v.data[82 * plane..112 * plane], &sm.data[..]);
}

#[test]
fn totalsegmentator_labels_and_synthetic_tumours_on_real_kidneys() {
    let (Some(seg), Some(ct)) = (
        sample("totalsegmentator/example_seg.nii.gz"),
        sample("totalsegmentator/example_ct_sm.nii.gz"),
    ) else {
        return;
    };
    let seg = read_volume(&seg).unwrap();
    let count = |id: f32| seg.data.iter().filter(|&&v| v == id).count();
    assert_eq!(
        (count(5.0), count(2.0), count(3.0), count(1.0)),
        (38_634, 3_947, 3_676, 9_452)
    );
    // TotalSegmentator's multilabel kidneys are {2, 3}: 21 of 30 slices have over 32 pixels.
    let keep = kidney_slices(&seg, 2, &[2, 3], 32);
    assert_eq!(keep.len(), 21);
    // The paper's blob on a real kidney slice, with the pixel numbers scaled to 3 mm.
    let ct = read_volume(&ct).unwrap();
    let w = Window::hu(-100.0, 300.0).unwrap();
    let k = keep[keep.len() / 2];
    let img = cut(&ct, 2, k, false, false, false).unwrap();
    let lab = cut(&seg, 2, k, false, false, false).unwrap();
    let mut x: Vec<f32> = img.data.clone();
    w.apply_all(&mut x);
    let kidney: Vec<u8> = lab
        .data
        .iter()
        .map(|&v| (v == 2.0 || v == 3.0) as u8)
        .collect();
    let prm = TumourParams {
        p: 1.0,
        spacing_mm: 3.0,
        ..Default::default()
    };
    let placed = (0..20)
        .filter(|&i| {
            insert(
                &x,
                &kidney,
                img.rows,
                img.cols,
                &prm,
                &mut Rng::keyed(9, &[i]),
            )
            .unwrap()
            .outcome
                == Outcome::Inserted
        })
        .count();
    assert!(placed >= 15, "only {placed} of 20 placed on a real kidney");
}

#[test]
fn nibabel_edge_cases() {
    if let Some(p) = sample("nibabel/anatomical.nii") {
        let v = read_volume(&p).unwrap(); // big-endian int16
        assert_eq!(v.dims, [33, 41, 25]);
        assert!(v.data.iter().any(|&x| x != 0.0));
    }
    if let Some(p) = sample("nibabel/standard.nii.gz") {
        assert_eq!(read_volume(&p).unwrap().dims, [4, 5, 7]);
    }
    if let Some(p) = sample("nibabel/example_nifti2.nii.gz") {
        assert!(read_volume(&p).unwrap_err().to_string().contains("NIfTI-2"));
    }
    if let Some(p) = sample("nibabel/example4d.nii.gz") {
        assert!(read_volume(&p).unwrap_err().to_string().contains("3-D"));
    }
}

#[test]
fn slice_dataset_on_the_real_kidneys() {
    use coin::data::cache::Slicing;
    use coin::data::dataset::{DatasetConfig, SliceDataset, Task, Tumours};
    use coin::data::layout::{discover, LabelIds, LayoutKind, Split};
    let (Some(ct), Some(seg)) = (
        sample("totalsegmentator/example_ct_sm.nii.gz"),
        sample("totalsegmentator/example_seg.nii.gz"),
    ) else {
        return;
    };
    // The real CT in the paper's layout, read through discover → cache → dataset.
    let root = std::env::temp_dir().join(format!("coin-real-ds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (dir, src) in [("train", &ct), ("nnUNet_predictions", &seg)] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        std::fs::copy(src, root.join(dir).join("example.nii.gz")).unwrap();
    }
    let cases = discover(LayoutKind::TotalSegmentator, &root, None).unwrap();
    let cfg = DatasetConfig {
        labels: LabelIds::totalsegmentator_multilabel(),
        slicing: Slicing {
            axis: 2,
            transpose: false,
            flip_rows: false,
            flip_cols: false,
            kidney: vec![2, 3],
            threshold_at_1_5mm: 32,
        },
        window: Window::hu(-100.0, 300.0).unwrap(),
        size: (128, 128),
        task: Task::Synthetic(TumourParams::default()),
        tumours: Tumours::Fresh,
        augment: None,
        cache_dir: root.join("cache"),
    };
    let ds = SliceDataset::open(&cases, Some(Split::Train), cfg).unwrap();
    // 32 px at 1.5 mm is 8 px at 3 mm: 22 of the 30 slices keep enough kidney.
    assert_eq!(ds.len(), 22);
    let mut inserted = 0;
    for i in 0..ds.len() {
        let s = ds.sample(i, &mut Rng::keyed(4, &[i as u64])).unwrap();
        assert_eq!((s.rows, s.cols, s.masks.len()), (128, 128, 3));
        inserted += s.label as usize;
        assert_eq!(s.label == 1, s.masks[2].contains(&1));
    }
    assert!(inserted >= 5, "{inserted} of 22 slices got a tumour");
    let _ = std::fs::remove_dir_all(&root);
}
