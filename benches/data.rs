//! The data path's throughput: volumes → windowed, resized kidney slices per second, on a real
//! CT (TotalSegmentator's `example_ct_sm` + `example_seg`, from `scripts/fetch-sample-data.sh`) and
//! a phantom patient. Two paths per file:
//! - `decode`: read both `.nii.gz` volumes, filter kidney slices, cut, window, resize to 256²;
//! - `cached`: the same slices from the preprocessed-slice cache (built once, outside timing).
//!
//! `scripts/bench-data.sh` runs this and the same work with nibabel + NumPy + OpenCV (the
//! paper's tools; its cache is a memory-mapped `.npy`) in one go and prints the ratios.

use coin::data::cache::{CachedCase, Slicing};
use coin::data::layout::Case;
use coin::data::phantom::{write_dataset, PhantomSpec};
use coin::data::slices::{cut, kidney_slices, scaled_threshold};
use coin::data::{read_volume, resize_linear, Window};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::path::{Path, PathBuf};
use std::time::Duration;

const SIZE: usize = 256;

/// (name, image, labels, kidney ids) of each benchmarked case.
fn cases() -> Vec<(&'static str, PathBuf, PathBuf, Vec<u32>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v = Vec::new();
    let ts = root.join(".sample-data/totalsegmentator");
    if ts.join("example_ct_sm.nii.gz").is_file() {
        v.push((
            "example_ct_sm",
            ts.join("example_ct_sm.nii.gz"),
            ts.join("example_seg.nii.gz"),
            vec![2, 3],
        ));
    } else {
        eprintln!("bench data: skipped example_ct_sm (run scripts/fetch-sample-data.sh)");
    }
    let ph = root.join("target/bench-data/phantom");
    write_dataset(&ph, &PhantomSpec::default(), 1, 0).expect("phantom written");
    v.push((
        "phantom",
        ph.join("train/patient_000.nii.gz"),
        ph.join("nnUNet_predictions/patient_000.nii.gz"),
        vec![1],
    ));
    v
}

fn slicing(kidney: &[u32]) -> Slicing {
    Slicing {
        axis: 2,
        transpose: false,
        flip_rows: false,
        flip_cols: false,
        kidney: kidney.to_vec(),
        threshold_at_1_5mm: 32,
    }
}

fn decode(img: &Path, lab: &Path, kidney: &[u32], w: &Window) -> Vec<Vec<f32>> {
    let (v, l) = (read_volume(img).unwrap(), read_volume(lab).unwrap());
    let th = scaled_threshold(32, v.spacing[0].min(v.spacing[1]) as f64);
    kidney_slices(&l, 2, kidney, th)
        .into_iter()
        .map(|k| {
            let mut s = cut(&v, 2, k, false, false, false).unwrap();
            s.data.iter_mut().for_each(|x| *x = x.trunc());
            w.apply_all(&mut s.data);
            resize_linear(&s.data, s.rows, s.cols, SIZE, SIZE).unwrap()
        })
        .collect()
}

fn cached(c: &CachedCase, w: &Window) -> Vec<Vec<f32>> {
    (0..c.len())
        .map(|slot| {
            let (mut hu, _) = c.read(slot).unwrap();
            w.apply_all(&mut hu);
            resize_linear(&hu, c.header.rows, c.header.cols, SIZE, SIZE).unwrap()
        })
        .collect()
}

fn data(c: &mut Criterion) {
    let mut g = c.benchmark_group("data");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3));
    let w = Window::hu(-100.0, 300.0).unwrap();
    let cache_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/cache");
    for (name, img, lab, kidney) in cases() {
        let n = decode(&img, &lab, &kidney, &w).len();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| decode(&img, &lab, &kidney, &w))
        });
        let case = Case {
            id: name.to_string(),
            image: img.clone(),
            labels: lab.clone(),
            split: None,
        };
        let cc = CachedCase::open_or_build(&cache_dir, &case, &slicing(&kidney)).unwrap();
        assert_eq!(cc.len(), n, "the cache keeps the same slices");
        g.bench_function(BenchmarkId::new("cached", name), |b| {
            b.iter(|| cached(&cc, &w))
        });
    }
    g.finish();
}

criterion_group!(benches, data);
criterion_main!(benches);
