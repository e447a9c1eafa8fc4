//! The slice dataset over the preprocessed-slice cache, on the built-in phantom written to disk
//! in the paper's TotalSegmentator layout and read back through the real-data path.

use coin::data::cache::{CachedCase, Slicing};
use coin::data::dataset::{DatasetConfig, SliceDataset, Task, Tumours};
use coin::data::layout::{discover, Case, LabelIds, LayoutKind, Split};
use coin::data::loader::{Loader, LoaderConfig};
use coin::data::phantom::{patient, write_dataset, PhantomSpec};
use coin::data::slices::{cut, write_back};
use coin::data::tumour::{Outcome, TumourParams};
use coin::data::{read_volume, Window};
use coin::rng::Rng;
use coin::Device;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn spec() -> PhantomSpec {
    PhantomSpec {
        nz: 24,
        ..PhantomSpec::default()
    }
}

fn phantom_root(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coin-dataset-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    write_dataset(&d, &spec(), 2, 1).unwrap();
    d
}

fn slicing() -> Slicing {
    Slicing {
        axis: 2,
        transpose: false,
        flip_rows: false,
        flip_cols: false,
        kidney: vec![1],
        threshold_at_1_5mm: 32,
    }
}

fn config(root: &Path, size: (usize, usize), tumours: Tumours) -> DatasetConfig {
    DatasetConfig {
        labels: LabelIds::paper(),
        slicing: slicing(),
        window: Window::hu(-100.0, 300.0).unwrap(),
        size,
        task: Task::Synthetic(TumourParams::default()),
        tumours,
        augment: None,
        cache_dir: root.join("cache"),
    }
}

fn cases(root: &Path) -> Vec<Case> {
    discover(LayoutKind::TotalSegmentator, root, None).unwrap()
}

#[test]
fn cache_holds_the_kidney_slices_as_int16_and_is_reused() {
    let root = phantom_root("cache");
    let cs = cases(&root);
    assert_eq!(cs.len(), 3);
    assert_eq!(
        cs.iter().filter(|c| c.split == Some(Split::Train)).count(),
        2
    );
    let cached = CachedCase::open_or_build(&root.join("cache"), &cs[0], &slicing()).unwrap();
    let (img, lab) = (
        read_volume(&cs[0].image).unwrap(),
        read_volume(&cs[0].labels).unwrap(),
    );
    let expected = coin::data::slices::kidney_slices(&lab, 2, &[1], 32);
    assert!(!expected.is_empty());
    assert_eq!(cached.header.indices, expected);
    assert_eq!((cached.header.rows, cached.header.cols), (256, 256));
    assert_eq!(cached.header.spacing, [1.5, 1.5]);
    for slot in [0, cached.len() - 1] {
        let (hu, ids) = cached.read(slot).unwrap();
        let k = cached.header.indices[slot];
        let s = cut(&img, 2, k, false, false, false).unwrap();
        let l = cut(&lab, 2, k, false, false, false).unwrap();
        let trunc: Vec<f32> = s.data.iter().map(|v| v.trunc()).collect();
        assert_eq!(hu, trunc, "slot {slot}");
        assert_eq!(ids, l.data.iter().map(|&v| v as u8).collect::<Vec<_>>());
        // The provenance writes a slice back where it came from.
        let p = cached.provenance(slot);
        let mut target = lab.clone();
        target.data.iter_mut().for_each(|v| *v = 0.0);
        write_back(&vec![7.0; 256 * 256], &p, &mut target).unwrap();
        assert_eq!(target.data.iter().filter(|&&v| v == 7.0).count(), 256 * 256);
        assert_eq!(target.data[k * 256 * 256], 7.0);
    }
    // Reopened: the same file, not rebuilt.
    let t0 = std::fs::metadata(&cached.path).unwrap().modified().unwrap();
    let again = CachedCase::open_or_build(&root.join("cache"), &cs[0], &slicing()).unwrap();
    assert_eq!(again.path, cached.path);
    assert_eq!(
        std::fs::metadata(&again.path).unwrap().modified().unwrap(),
        t0
    );
    // Other slicing parameters: another file.
    let other = Slicing {
        threshold_at_1_5mm: 500,
        ..slicing()
    };
    let o = CachedCase::open_or_build(&root.join("cache"), &cs[0], &other).unwrap();
    assert_ne!(o.path, cached.path);
    assert!(o.len() < cached.len());
    // A damaged cache file is rebuilt, not trusted.
    let full = std::fs::read(&cached.path).unwrap();
    std::fs::write(&cached.path, &full[..full.len() / 2]).unwrap();
    let fixed = CachedCase::open_or_build(&root.join("cache"), &cs[0], &slicing()).unwrap();
    assert_eq!(std::fs::read(&fixed.path).unwrap(), full);
    std::fs::write(&cached.path, b"garbage").unwrap();
    let fixed = CachedCase::open_or_build(&root.join("cache"), &cs[0], &slicing()).unwrap();
    assert_eq!(fixed.read(0).unwrap(), cached.read(0).unwrap());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn synthetic_tumours_fresh_for_training_fixed_for_test() {
    let root = phantom_root("synth");
    let cs = cases(&root);
    let train = SliceDataset::open(
        &cs,
        Some(Split::Train),
        config(&root, (256, 256), Tumours::Fresh),
    )
    .unwrap();
    let test = SliceDataset::open(
        &cs,
        Some(Split::Test),
        config(&root, (256, 256), Tumours::Fixed { seed: 5 }),
    )
    .unwrap();
    assert!(train.len() > test.len() && !test.is_empty());
    let (mut inserted, mut differs) = (0, 0);
    for i in 0..train.len() {
        let a = train.sample(i, &mut Rng::keyed(1, &[0, i as u64])).unwrap();
        let b = train.sample(i, &mut Rng::keyed(1, &[1, i as u64])).unwrap();
        let a2 = train.sample(i, &mut Rng::keyed(1, &[0, i as u64])).unwrap();
        assert_eq!(a.image, a2.image, "same stream, same sample");
        differs += (a.masks[2] != b.masks[2]) as usize;
        assert_eq!(a.masks.len(), 3);
        assert_eq!(a.label, (a.outcome == Some(Outcome::Inserted)) as u8);
        assert_eq!(a.label == 1, a.masks[2].contains(&1));
        // The clean slice equals the image outside the tumour's patch, and the tumour only
        // brightens.
        let mut bright = 0;
        for p in 0..a.image.len() {
            assert!(a.image[p] >= a.clean[p] - 1e-6);
            bright += (a.image[p] > a.clean[p] + 1e-6) as usize;
            if a.masks[2][p] == 1 {
                assert!(a.masks[1][p] == 1 || a.image[p] > a.clean[p] || a.clean[p] == 1.0);
            }
        }
        assert_eq!(bright > 0, a.label == 1);
        inserted += a.label as usize;
        assert!(a.masks[1].contains(&1), "every kept slice has kidney");
    }
    let rate = inserted as f64 / train.len() as f64;
    assert!((0.2..=0.65).contains(&rate), "positive rate {rate}");
    assert!(differs > train.len() / 4, "fresh tumours per epoch");
    for i in 0..test.len() {
        let a = test.sample(i, &mut Rng::keyed(1, &[0, i as u64])).unwrap();
        let b = test.sample(i, &mut Rng::keyed(9, &[3, i as u64])).unwrap();
        assert_eq!(a.image, b.image, "test tumours are fixed");
        assert_eq!(a.masks, b.masks);
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn loader_over_the_dataset_resizes_and_carries_clean_images() {
    let root = phantom_root("loader");
    let cs = cases(&root);
    let mut cfg = config(&root, (64, 64), Tumours::Fresh);
    cfg.augment = Some(coin::data::augment::Augment::default());
    let ds = Arc::new(SliceDataset::open(&cs, Some(Split::Train), cfg).unwrap());
    let loader = Loader::new(
        ds.clone(),
        LoaderConfig {
            batch: 4,
            workers: 2,
            device: Device::Cpu,
            ..LoaderConfig::default()
        },
    )
    .unwrap();
    let mut seen = 0;
    for b in loader.epoch(0) {
        let b = b.unwrap();
        let n = b.indices.len();
        assert_eq!(b.images.shape().dims(), &[n, 1, 64, 64]);
        let clean = b.clean.expect("the dataset has clean images");
        assert_eq!(clean.shape().dims(), &[n, 1, 64, 64]);
        let (img, cl) = (b.images.to_vec_f32(), clean.to_vec_f32());
        assert!(img.iter().all(|v| (-1.0..=1.0).contains(v)));
        for k in 0..n {
            let m = &b.masks[k];
            assert_eq!(m.len(), 3);
            assert!(m.iter().all(|m| m.len() == 64 * 64));
            // Augmented together: outside the tumour the image is the clean image.
            let tumour_px = m[2].iter().filter(|&&v| v == 1).count();
            let changed = (0..64 * 64)
                .filter(|&p| (img[k * 4096 + p] - cl[k * 4096 + p]).abs() > 1e-5)
                .count();
            if tumour_px == 0 {
                assert_eq!(changed, 0);
            }
        }
        seen += n;
    }
    assert_eq!(seen, ds.len());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn real_tumour_labels_and_bad_cases() {
    let root = phantom_root("real");
    // Give patient 0 a "tumour" (id 2) of 300 voxels (in the air, so the kidney count and the
    // kept slices stay) in its middle kidney slice.
    let cs = cases(&root);
    let (tr, te) = (
        cs.iter()
            .position(|c| c.split == Some(Split::Train))
            .unwrap(),
        cs.iter()
            .position(|c| c.split == Some(Split::Test))
            .unwrap(),
    );
    let mut lab = read_volume(&cs[tr].labels).unwrap();
    let cached = CachedCase::open_or_build(&root.join("cache"), &cs[tr], &slicing()).unwrap();
    let k = cached.header.indices[cached.len() / 2];
    for i in 0..300 {
        lab.data[k * 256 * 256 + i] = 2.0;
    }
    let labels: Vec<u8> = lab.data.iter().map(|&v| v as u8).collect();
    coin::data::write_labels(&cs[tr].labels, &labels, &lab).unwrap();
    let mut cfg = config(&root, (128, 128), Tumours::Fresh);
    cfg.task = Task::RealTumour { threshold: 200 };
    let ds = SliceDataset::open(&cs, Some(Split::Train), cfg.clone()).unwrap();
    let labels = coin::data::loader::SliceSource::labels(&ds).unwrap();
    assert_eq!(labels.iter().filter(|&&l| l == 1).count(), 1);
    let pos = labels.iter().position(|&l| l == 1).unwrap();
    let s = ds.sample(pos, &mut Rng::new(0)).unwrap();
    assert_eq!(s.masks.len(), 4);
    assert!(s.masks[2].contains(&1));
    assert_eq!(s.image, s.clean);
    assert_eq!(s.provenance.index, k);

    // An image whose label map has other dims: an error naming both files.
    let small = patient(
        &PhantomSpec {
            nz: 8,
            ..PhantomSpec::default()
        },
        0,
    );
    let labels: Vec<u8> = small.labels.data.iter().map(|&v| v as u8).collect();
    coin::data::write_labels(&cs[te].labels, &labels, &small.image).unwrap();
    let e = SliceDataset::open(&cs, Some(Split::Test), cfg.clone())
        .err()
        .expect("dims differ")
        .to_string();
    assert!(e.contains("dims") && e.contains("patient_002"), "{e}");
    // No case in the split, and a zero size: errors, not panics.
    assert!(SliceDataset::open(&cs[tr..tr + 1], Some(Split::Test), cfg.clone()).is_err());
    cfg.size = (0, 64);
    assert!(SliceDataset::open(&cs, Some(Split::Train), cfg).is_err());
    let _ = std::fs::remove_dir_all(&root);
}
