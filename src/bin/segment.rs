//! `cargo run --release --bin segment -- --model RUN_DIR --input CT.nii.gz --output MASK.nii.gz`
//! — a tumour mask for a CT volume or DICOM series (or a folder of them) from a run of `train`,
//! on the input's exact grid and affine, preprocessed as the run was trained. See `--help`.

use clap::Parser;
use coin::cli::{DeviceArg, Failure, ModelArgs};
use coin::data::nifti::{read_volume, write_f32, write_labels};
use coin::data::{is_series_dir, read_scan};
use coin::eval::sidecar::{
    components, mask_stem, preview_path, save_preview, sha256_of, sidecar_path, FileStamp,
    OrientationPlan, Sidecar, Software,
};
use coin::eval::{check_organ_mask, segment_volume, OrganMask, SegmentOptions};
use coin::train::TrainedModel;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Segment tumours in CT volumes with a trained COIN model.
///
/// Slices (all, or those the organ mask covers as in training) are cut along the axial axis,
/// turned to the training orientation, windowed and resized as in training, healed by the
/// generator; |x − x_cf| is resampled to the native slice size and thresholded. A DICOM series
/// folder is read on the grid dcm2niix gives it, and the mask (NIfTI) is written on that grid.
/// With a folder of scans as --input, every .nii/.nii.gz in it and every DICOM series folder in
/// it is segmented into the --output folder under the same name (a series folder S as S.nii.gz;
/// --organ-mask, --save-* and --csv then name folders too).
///
/// Research software, not a medical device: its masks are not for clinical decisions.
#[derive(Parser, Debug)]
#[command(version, about, long_about, after_help = coin::cli::EXIT_CODES_HELP)]
struct Args {
    #[command(flatten)]
    trained: ModelArgs,
    /// A CT volume (.nii/.nii.gz, HU), a DICOM series folder (one file per slice), or a folder of
    /// either.
    #[arg(long)]
    input: PathBuf,
    /// The SeriesInstanceUID to read when the --input DICOM folder holds several series.
    #[arg(long)]
    series: Option<String>,
    /// The mask to write (uint8, 1 = tumour), or a folder in folder mode.
    #[arg(long)]
    output: PathBuf,
    /// An organ label map on the input's grid (e.g. TotalSegmentator's): only slices with enough
    /// organ voxels (training's filter) are segmented.
    #[arg(long)]
    organ_mask: Option<PathBuf>,
    /// Organ label ids in --organ-mask, comma-separated (default: the run's kidney labels;
    /// TotalSegmentator's kidneys are 2,3).
    #[arg(long)]
    organ_labels: Option<String>,
    /// |x − x_cf| in [0, 1] units above this is tumour (default: the run's, 0.25 as the paper).
    #[arg(long)]
    threshold: Option<f64>,
    /// The paper's post-processing per slice: 3×3 opening, closing, largest 8-connected component.
    #[arg(long)]
    postprocess: bool,
    /// Also write the counterfactual (float32 HU: the input plus the generator's change).
    #[arg(long)]
    save_counterfactual: Option<PathBuf>,
    /// Also write the difference map |x − x_cf| (float32, [0, 1] units, native resolution).
    #[arg(long)]
    save_difference: Option<PathBuf>,
    /// Also write a per-slice CSV (axis, index, organ pixels, p before/after, changed pixels).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// The slicing axis 0, 1 or 2 (default: the voxel axis nearest superior–inferior).
    #[arg(long)]
    axis: Option<usize>,
    /// Slices per forward pass.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// auto, cpu, cuda[:N] (or gpu[:N]), reference or emu.
    #[arg(long, default_value = "auto")]
    device: DeviceArg,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Overwrite existing outputs.
    #[arg(long)]
    force: bool,
    /// When no slice is selected (the organ mask covers none), write an empty mask and exit 0
    /// instead of writing nothing and exiting 3.
    #[arg(long)]
    allow_empty: bool,
    /// Also write MASK.png beside each mask: the slices with the largest findings, the input
    /// (W400 L40) with the mask's outline in red.
    #[arg(long)]
    preview: bool,
}

/// One volume's input and output paths.
struct Job {
    input: PathBuf,
    organ: Option<PathBuf>,
    mask: PathBuf,
    counterfactual: Option<PathBuf>,
    difference: Option<PathBuf>,
    csv: Option<PathBuf>,
}

fn is_nifti(p: &Path) -> bool {
    let s = p.to_string_lossy().to_ascii_lowercase();
    s.ends_with(".nii") || s.ends_with(".nii.gz")
}

fn jobs(a: &Args) -> Result<Vec<Job>, String> {
    if !a.input.exists() {
        return Err(format!(
            "--input {}: no such file or folder",
            a.input.display()
        ));
    }
    let series_input = is_series_dir(&a.input);
    if a.series.is_some() && !series_input {
        return Err(format!(
            "--series picks one series of a DICOM folder; --input {} is not one",
            a.input.display()
        ));
    }
    if !a.input.is_dir() || series_input {
        if a.output.is_dir() {
            return Err(format!(
                "--output {} is a folder; give a file name for a single volume",
                a.output.display()
            ));
        }
        if !is_nifti(&a.output) {
            return Err(format!(
                "--output {}: name it .nii or .nii.gz (masks are written as NIfTI; DICOM-SEG \
                 output is not supported)",
                a.output.display()
            ));
        }
        return Ok(vec![Job {
            input: a.input.clone(),
            organ: a.organ_mask.clone(),
            mask: a.output.clone(),
            counterfactual: a.save_counterfactual.clone(),
            difference: a.save_difference.clone(),
            csv: a.csv.clone(),
        }]);
    }
    if a.output.is_file() {
        return Err(format!(
            "--input is a folder, so --output must be one too ({} is a file)",
            a.output.display()
        ));
    }
    if let Some(o) = a.organ_mask.as_ref().filter(|o| !o.is_dir()) {
        return Err(format!(
            "--input is a folder, so --organ-mask must be a folder of label maps named as the inputs ({} is not)",
            o.display()
        ));
    }
    let inputs = folder_inputs(&a.input)?;
    Ok(inputs
        .into_iter()
        .map(|(input, name)| {
            let organ = a.organ_mask.as_ref().map(|d| d.join(&name));
            Job {
                organ,
                mask: a.output.join(&name),
                counterfactual: a.save_counterfactual.as_ref().map(|d| d.join(&name)),
                difference: a.save_difference.as_ref().map(|d| d.join(&name)),
                csv: a
                    .csv
                    .as_ref()
                    .map(|d| d.join(format!("{}.csv", mask_stem(&name)))),
                input,
            }
        })
        .collect())
}

/// The scans in a folder with their output names: NIfTI files keep theirs, a DICOM series
/// folder S becomes S.nii.gz.
fn folder_inputs(dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let mut inputs: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().to_string();
            if p.is_file() && is_nifti(&p) {
                Some((p, name))
            } else if is_series_dir(&p) {
                Some((p, format!("{name}.nii.gz")))
            } else {
                None
            }
        })
        .collect();
    inputs.sort();
    if inputs.is_empty() {
        return Err(format!(
            "{} holds no .nii or .nii.gz files and no DICOM series folders",
            dir.display()
        ));
    }
    Ok(inputs)
}

fn check_outputs(jobs: &[Job], force: bool) -> Result<(), String> {
    let mut clash = Vec::new();
    for j in jobs {
        let outs = [
            Some(&j.mask),
            j.counterfactual.as_ref(),
            j.difference.as_ref(),
            j.csv.as_ref(),
        ];
        for o in outs.into_iter().flatten() {
            if o == &j.input || Some(o) == j.organ.as_ref() {
                return Err(format!("{} is both an input and an output", o.display()));
            }
            if o.exists() && !force {
                clash.push(o.display().to_string());
            }
        }
    }
    if clash.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "these outputs exist (pass --force to overwrite): {}",
            clash.join(", ")
        ))
    }
}

fn parse_ids(s: &str) -> Result<Vec<u32>, String> {
    let ids: Vec<u32> = s
        .split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| {
            x.trim()
                .parse()
                .map_err(|e| format!("--organ-labels '{x}': {e}"))
        })
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Err("--organ-labels: give at least one label id".into());
    }
    Ok(ids)
}

fn main() {
    let a = Args::parse();
    coin::cli::main("segment", || real_main(&a))
}

fn real_main(a: &Args) -> Result<(), Failure> {
    coin::set_threads(a.threads).map_err(|e| Failure::usage(e.to_string()))?;
    let jobs = jobs(a).map_err(Failure::usage)?;
    check_outputs(&jobs, a.force).map_err(Failure::usage)?;
    let device = a.device.open()?;
    let model = a.trained.open(device)?;
    model.config.apply_precision();
    let ids = match &a.organ_labels {
        Some(s) => parse_ids(s).map_err(Failure::usage)?,
        None => model.prep.kidney_labels.clone(),
    };
    let threshold = a.threshold.unwrap_or(model.config.eval.threshold);
    println!(
        "coin segment: model {} (checkpoint {}, step {}), {}² slices, window [{:.0}, {:.0}] HU, threshold {threshold}, device {device}",
        a.trained.model.display(),
        model.checkpoint.display(),
        model.step,
        model.prep.size,
        model.prep.window_hu[0],
        model.prep.window_hu[1],
    );
    let mut empty = Vec::new();
    for job in &jobs {
        if !segment_one(a, &model, job, &ids, threshold)? && !a.allow_empty {
            empty.push(job.input.display().to_string());
        }
    }
    if empty.is_empty() {
        return Ok(());
    }
    Err(Failure::nothing(format!(
        "no slice selected in {}: the organ mask covers no slice with enough organ voxels \
         (training's filter), so nothing was written (--allow-empty writes an empty mask and \
         exits 0)",
        empty.join(", ")
    )))
}

/// The organ label map of a job, refused when it looks like an image.
fn organ_labels(job: &Job) -> Result<Option<coin::data::Volume>, Failure> {
    let Some(p) = &job.organ else {
        return Ok(None);
    };
    let v = read_volume(p)?;
    check_organ_mask(&v).map_err(|e| Failure::usage(e.to_string()))?;
    Ok(Some(v))
}

/// Segments one volume; false when no slice was selected (and, without --allow-empty, nothing
/// was written).
fn segment_one(
    a: &Args,
    model: &TrainedModel,
    job: &Job,
    ids: &[u32],
    threshold: f64,
) -> Result<bool, Failure> {
    let t = Instant::now();
    let v = read_scan(&job.input, a.series.as_deref())?;
    let labels = organ_labels(job)?;
    let opts = SegmentOptions {
        threshold,
        postprocess: a.postprocess,
        axis: a.axis,
        organ: labels.as_ref().map(|l| OrganMask {
            labels: l,
            ids: ids.to_vec(),
        }),
        batch: a.batch,
        counterfactual: job.counterfactual.is_some(),
        difference: job.difference.is_some(),
    };
    let name = job.input.display().to_string();
    let bar = coin::io::progress::slice_bar(&name);
    let seg = segment_volume(model.networks(), &v, &opts, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    if let Some(w) = &seg.orientation_warning {
        eprintln!("WARNING: {name}: {w}");
    }
    if job.organ.is_none() {
        eprintln!(
            "WARNING: {name}: no --organ-mask, so all {} slices along axis {} were segmented, \
             though the model saw only kidney slices in training; an organ label map (e.g. \
             TotalSegmentator's, kidneys 2,3: --organ-mask SEG.nii.gz --organ-labels 2,3) \
             restricts it to those slices",
            v.dims[seg.axis], seg.axis
        );
    }
    if seg.slices.is_empty() && !a.allow_empty {
        println!("{name}: no slice selected; nothing written");
        return Ok(false);
    }
    write_outputs(job, &seg, &v)?;
    let (voxels, ml) = write_sidecar(a, model, job, &seg, &v, t.elapsed().as_secs_f64())?;
    if a.preview {
        save_preview(&preview_path(&job.mask), &v, &seg.mask, seg.axis)?;
    }
    let r = seg.reorientation;
    println!(
        "{name}: {} of {} slices along axis {} (transpose {}, flip rows {}, flip columns {}); {voxels} mask voxels ({ml:.1} mL) → {} in {:.1} s",
        seg.slices.len(),
        v.dims[seg.axis],
        seg.axis,
        r.transpose,
        r.flip_rows,
        r.flip_cols,
        job.mask.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(!seg.slices.is_empty())
}

/// `MASK.json` beside the mask: what made it (no patient-identifying tag). Returns the mask's
/// voxels and millilitres.
fn write_sidecar(
    a: &Args,
    model: &TrainedModel,
    job: &Job,
    seg: &coin::eval::VolumeSegmentation,
    v: &coin::data::Volume,
    seconds: f64,
) -> Result<(usize, f64), Failure> {
    let files = model.model_files();
    let model_stamp = FileStamp {
        path: a.trained.model.display().to_string(),
        files: files.iter().map(|f| f.display().to_string()).collect(),
        sha256: sha256_of(&files)?,
    };
    let components = components(&seg.mask, v.dims, v.spacing);
    let voxels: usize = components.iter().map(|c| c.voxels).sum();
    let r = seg.reorientation;
    let sidecar = Sidecar {
        mask: job.mask.display().to_string(),
        input: FileStamp::of(&job.input)?,
        organ_mask: job.organ.as_deref().map(FileStamp::of).transpose()?,
        model: model_stamp,
        model_step: model.step,
        model_averaged: model.averaged,
        software: Software::current(),
        device: model.nets.eg.device().to_string(),
        threshold: a.threshold.unwrap_or(model.config.eval.threshold),
        postprocess: a.postprocess,
        window_hu: model.prep.window_hu,
        size: model.prep.size,
        axis: seg.axis,
        orientation: OrientationPlan {
            transpose: r.transpose,
            flip_rows: r.flip_rows,
            flip_cols: r.flip_cols,
            warning: seg.orientation_warning.clone(),
        },
        slices_processed: seg.slices.iter().map(|s| s.index).collect(),
        slices_skipped: v.dims[seg.axis] - seg.slices.len(),
        skipped_because: if job.organ.is_some() {
            "fewer organ voxels in --organ-mask than training's kidney filter keeps".into()
        } else {
            "none skipped: no --organ-mask, every slice along the axis was segmented".into()
        },
        mask_voxels: voxels,
        mask_ml: components.iter().map(|c| c.ml).sum(),
        components,
        seconds,
    };
    let text =
        serde_json::to_string_pretty(&sidecar).map_err(|e| Failure::failed(e.to_string()))?;
    coin::io::checkpoint::write_atomic(&sidecar_path(&job.mask), text.as_bytes())?;
    Ok((sidecar.mask_voxels, sidecar.mask_ml))
}

/// Everything is computed; each file is written to a temporary name and renamed.
fn write_outputs(
    job: &Job,
    seg: &coin::eval::VolumeSegmentation,
    v: &coin::data::Volume,
) -> Result<(), Failure> {
    write_labels(&job.mask, &seg.mask, v)?;
    if let (Some(p), Some(c)) = (&job.counterfactual, &seg.counterfactual_hu) {
        write_f32(p, c, v)?;
    }
    if let (Some(p), Some(d)) = (&job.difference, &seg.difference) {
        write_f32(p, d, v)?;
    }
    if let Some(p) = &job.csv {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::failed(format!("{}: {e}", dir.display())))?;
        }
        coin::io::checkpoint::write_atomic(p, seg.csv().as_bytes())?;
    }
    Ok(())
}
