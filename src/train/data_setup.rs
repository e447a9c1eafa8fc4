//! From a configuration to the three splits: the built-in phantom (written once to
//! `data/phantom-…` and reused) or a user's folder in a supported layout; a validation split
//! carved from the training patients (seeded, at patient level); the HU window (fixed, or the
//! fingerprint of the training split only); slice datasets for training, validation and test.

use super::preset::{RunConfig, TaskKind};
use crate::data::cache::Slicing;
use crate::data::dataset::{DatasetConfig, SliceDataset, Task, Tumours};
use crate::data::layout::{discover, Case, Split};
use crate::data::orientation::{slice_orientation, SliceOrientation};
use crate::data::phantom::{write_dataset, PhantomSpec};
use crate::data::preprocessing::{absolute, DataSource, Preprocessing};
use crate::data::slice_labels::{case_name, SliceLabels};
use crate::data::slices::KIDNEY_PIXELS_AT_1_5MM;
use crate::data::tumour::TumourParams;
use crate::data::window::{fingerprint, Fingerprint};
use crate::data::{read_scan, read_volume, Window};
use crate::rng::Rng;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Splits {
    pub train: Arc<SliceDataset>,
    pub train_plain: Arc<SliceDataset>,
    pub val: Arc<SliceDataset>,
    pub test: Arc<SliceDataset>,
    pub prep: Preprocessing,
    pub counts: [usize; 3],
    /// The validation patients' case names (empty: the test split validates).
    pub val_patients: Vec<String>,
}

fn slicing(axis: usize, kidney: &[u32]) -> Slicing {
    Slicing {
        axis,
        transpose: false,
        flip_rows: false,
        flip_cols: false,
        kidney: kidney.to_vec(),
        threshold_at_1_5mm: KIDNEY_PIXELS_AT_1_5MM,
    }
}

/// The cases of the run (phantom written first if needed) and its data root.
pub fn cases(
    cfg: &RunConfig,
    src: &DataSource,
    saved_root: Option<&Path>,
) -> Result<(PathBuf, Vec<Case>)> {
    let root = match (&src.root, saved_root) {
        (Some(r), _) => absolute(r)?,
        // The phantom a run was trained on, where that run wrote it (absolute since runs
        // record it so): found wherever the run folder is opened from.
        (None, Some(saved)) if saved.is_absolute() => {
            write_phantom(cfg, saved)?;
            saved.to_path_buf()
        }
        (None, _) => {
            let d = &cfg.data;
            let root = absolute(Path::new(&format!(
                "data/phantom-{}x{}x{}-s{}",
                d.phantom_train, d.phantom_test, d.phantom_slices, cfg.seed
            )))?;
            write_phantom(cfg, &root)?;
            root
        }
    };
    let mut cases = discover(src.layout, &root, src.labels_dir.as_deref())?;
    if let Some(dir) = &src.splits {
        crate::data::layout::apply_split_lists(
            &mut cases,
            &dir.join("train_scans.csv"),
            &dir.join("test_scans.csv"),
        )?;
    }
    if cases.is_empty() {
        return Err(Error::Invalid(format!(
            "no scans found under {} ({:?} layout)",
            root.display(),
            src.layout
        )));
    }
    Ok((root, cases))
}

/// The built-in phantom of `cfg` under `root` (written once, reused after).
fn write_phantom(cfg: &RunConfig, root: &Path) -> Result<()> {
    let d = &cfg.data;
    let spec = PhantomSpec {
        nz: d.phantom_slices,
        seed: cfg.seed,
        ..PhantomSpec::default()
    };
    write_dataset(root, &spec, d.phantom_train, d.phantom_test)?;
    Ok(())
}

/// Splits the training cases into train and validation at patient level (seeded).
fn carve_validation(
    cases: &[Case],
    fraction: f64,
    seed: u64,
) -> Result<(Vec<Case>, Vec<Case>, Vec<Case>)> {
    let mut train: Vec<Case> = cases
        .iter()
        .filter(|c| c.split == Some(Split::Train))
        .cloned()
        .collect();
    let test: Vec<Case> = cases
        .iter()
        .filter(|c| c.split == Some(Split::Test))
        .cloned()
        .collect();
    if train.is_empty() || test.is_empty() {
        return Err(Error::Invalid(format!(
            "the data need training and test scans: found {} and {} (split folders or --splits lists)",
            train.len(),
            test.len()
        )));
    }
    train.sort_by(|a, b| a.id.cmp(&b.id));
    let mut rng = Rng::keyed(seed, &[0x7a1]);
    for i in (1..train.len()).rev() {
        train.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let n_val = ((train.len() as f64 * fraction).round() as usize)
        .clamp(usize::from(fraction > 0.0), train.len().saturating_sub(1));
    if fraction > 0.0 && n_val == 0 {
        return Err(Error::Invalid(
            "a validation split needs at least two training scans".into(),
        ));
    }
    let val = train.split_off(train.len() - n_val);
    Ok((train, val, test))
}

/// The HU window: the saved run's, the configuration's fixed one, or the kidney fingerprint of
/// the training split; with the training slices' orientation when the scans were read for it
/// (else the saved one, or none yet).
fn window_of(
    cfg: &RunConfig,
    saved: Option<&Preprocessing>,
    train_cases: &[Case],
    axis: usize,
    kidney: &[u32],
) -> Result<(Window, Option<Fingerprint>, Option<SliceOrientation>)> {
    let mut orientation = saved.and_then(|p| p.orientation);
    let (window, fp) = match (saved, cfg.data.window.as_slice()) {
        (Some(p), _) => (
            Window::hu(p.window_hu[0], p.window_hu[1])?,
            p.fingerprint.clone(),
        ),
        (None, [lo, hi]) => (Window::hu(*lo, *hi)?, None),
        (None, _) => {
            let mut vols = Vec::new();
            for c in train_cases {
                let (img, lab) = (read_scan(&c.image, None)?, read_volume(&c.labels)?);
                if img.dims != lab.dims {
                    return Err(Error::Shape(format!(
                        "{}: label map {} is on another grid ({:?} vs {:?})",
                        c.id,
                        c.labels.display(),
                        lab.dims,
                        img.dims
                    )));
                }
                vols.push((img, lab));
            }
            // The training slices' orientation, from the first training scan (read once here).
            orientation = orientation.or(Some(slice_orientation(&vols[0].0, axis)));
            let refs: Vec<(&_, &_)> = vols.iter().map(|(a, b)| (a, b)).collect();
            let per_scan = (1_000_000 / refs.len().max(1)).max(1000);
            let fp = fingerprint(&refs, kidney, per_scan, 1234)?;
            (Window::from_fingerprint(&fp)?, Some(fp))
        }
    };
    Ok((window, fp, orientation))
}

/// The slice labels of `csv` as the datasets' task, every case it names checked against the
/// data's cases.
fn slice_label_task(csv: &Path, all: &[Case]) -> Result<Task> {
    let labels = SliceLabels::read(csv)?;
    labels.check_cases(all.iter().map(|c| case_name(&c.id)))?;
    println!(
        "data: slice labels from {} ({} cases; the data's task setting is not used)",
        csv.display(),
        labels.cases.len()
    );
    Ok(Task::SliceLabels(Arc::new(labels)))
}

/// Each split of a CSV-labelled run needs both classes; labelled slices below the kidney
/// filter are dropped with a counted warning.
fn check_slice_labels(l: &SliceLabels, splits: [&Arc<SliceDataset>; 3]) -> Result<()> {
    for (name, ds) in ["training", "validation", "test"].iter().zip(splits) {
        let labels = ds.known_labels().unwrap_or_default();
        let abnormal = labels.iter().filter(|&&y| y == 1).count();
        if abnormal == 0 || abnormal == labels.len() {
            return Err(Error::Invalid(format!(
                "{}: the {name} split's {} labelled slices are all {} (each split needs normal and abnormal slices; the validation split is drawn from the training patients, the test split is the test folder's or --splits list's)",
                l.path.display(),
                labels.len(),
                if abnormal == 0 { "normal" } else { "abnormal" }
            )));
        }
        if ds.below_filter > 0 {
            eprintln!(
                "WARNING: {} labelled slices of the {name} split have fewer organ pixels than the kidney filter keeps; they are not used",
                ds.below_filter
            );
        }
    }
    Ok(())
}

/// The cases' names, as the run reports them.
fn case_names(cases: &[Case]) -> Vec<String> {
    cases.iter().map(|c| case_name(&c.id).to_string()).collect()
}

/// Everything the stages need from the data.
/// The slice cache lives in `<data root>/.coin-cache`, shared by every run on those data.
pub fn prepare(cfg: &RunConfig, src: &DataSource, saved: Option<&Preprocessing>) -> Result<Splits> {
    let (root, all) = cases(cfg, src, saved.map(|p| p.data_root.as_path()))?;
    let cache_dir = root.join(".coin-cache");
    let (train_cases, val_cases, test_cases) =
        carve_validation(&all, cfg.data.val_fraction, cfg.seed)?;
    let axis = src.layout.axial_axis();
    let kidney = src.labels.kidney.clone();
    let (window, fp, orientation) = window_of(cfg, saved, &train_cases, axis, &kidney)?;
    let task = match (&src.labels_csv, cfg.data.task) {
        (Some(csv), _) => slice_label_task(csv, &all)?,
        (None, TaskKind::Synthetic) => Task::Synthetic(TumourParams::default()),
        (None, TaskKind::Real) => Task::RealTumour {
            threshold: cfg.data.real_threshold,
        },
    };
    let base = DatasetConfig {
        labels: src.labels.clone(),
        slicing: slicing(axis, &kidney),
        window,
        size: (cfg.data.size, cfg.data.size),
        task,
        tumours: Tumours::Fresh,
        augment: None,
        cache_dir,
    };
    let open = |cases: &[Case], tumours: Tumours, augment: bool| -> Result<Arc<SliceDataset>> {
        let c = DatasetConfig {
            tumours,
            augment: augment.then(Default::default),
            ..base.clone()
        };
        Ok(Arc::new(SliceDataset::open(cases, None, c)?))
    };
    let train = open(&train_cases, Tumours::Fresh, cfg.classifier.augment)?;
    let train_plain = open(&train_cases, Tumours::Fresh, false)?;
    let val = open(
        if val_cases.is_empty() {
            &test_cases
        } else {
            &val_cases
        },
        Tumours::Fixed {
            seed: cfg.seed ^ 0x5a1,
        },
        false,
    )?;
    let test = open(
        &test_cases,
        Tumours::Fixed {
            seed: cfg.data.test_tumour_seed.unwrap_or(cfg.seed) ^ 0x7e57,
        },
        false,
    )?;
    if let Task::SliceLabels(l) = &base.task {
        check_slice_labels(l, [&train, &val, &test])?;
    }
    let counts = [train.len(), val.len(), test.len()];
    let orientation = match orientation {
        Some(o) => o,
        None => slice_orientation(&read_scan(&train_cases[0].image, None)?, axis),
    };
    Ok(Splits {
        train,
        train_plain,
        val,
        test,
        counts,
        val_patients: case_names(&val_cases),
        prep: Preprocessing {
            window_hu: [window.lo, window.hi],
            fingerprint: fp,
            size: cfg.data.size,
            axis,
            kidney_labels: kidney,
            data_root: root,
            orientation: Some(orientation),
        },
    })
}
