//! `cargo run --release --bin evaluate -- --model RUN_DIR --out REPORT_DIR` — the paper's table
//! for a trained run: COIN (plain and post-processed), the perfect-inpainter ceiling and the
//! attribution baselines (RISE, LayerCAM, ScoreCAM) on the same frozen classifier and the same
//! test slices, as Markdown, JSON, panels, plots and a static `index.html`. See `--help`.

use clap::{Parser, ValueEnum};
use coin::attribution::RiseCfg;
use coin::data::layout::LayoutKind;
use coin::data::DataSource;
use coin::eval::evaluate_coin_keeping_slices;
use coin::eval::report::{baseline_row, coin_rows, Baseline, MethodResult};
use coin::eval::report_page::{markdown_table, write_report, PageInfo};
use coin::train::data_setup::prepare;
use coin::train::test_loader;
use coin::train::TrainedModel;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Layout {
    Totalsegmentator,
    Kits,
    Nnunet,
}

/// Evaluate a trained COIN run against the paper's attribution baselines.
///
/// The test split is rebuilt exactly as `train` built it (same slices, same fixed synthetic
/// tumours, same batches), so COIN's numbers equal the run's summary.json. The baselines run
/// on the same frozen classifier and the same ground-truth-abnormal slices.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    /// A run folder written by `train`.
    #[arg(long)]
    model: PathBuf,
    /// `final` (the model `train` ended with: its best-validation checkpoint when it selected one,
    /// else the latest), `last` (the latest checkpoint) or a checkpoint folder / its
    /// weights.safetensors.
    #[arg(long, default_value = "final")]
    checkpoint: String,
    /// Evaluate on another data folder (default: the run's data), with the run's preprocessing.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The layout of --data.
    #[arg(long, value_enum, default_value = "totalsegmentator")]
    layout: Layout,
    /// The report folder.
    #[arg(long)]
    out: PathBuf,
    /// Baselines to run, comma-separated: rise, layercam, scorecam (or `none`).
    #[arg(long, default_value = "rise,layercam,scorecam")]
    baselines: String,
    /// RISE's mask count (the paper: 6000). With the default, `evaluate` of the default run
    /// (108 abnormal test slices at 128²) took 489 s on 2 cores (RISE 446 s).
    #[arg(long, default_value_t = 1500)]
    rise_masks: usize,
    /// Threshold on the baselines' min–max normalised saliency (default: the run's, the
    /// paper's 0.975).
    #[arg(long)]
    saliency_threshold: Option<f64>,
    /// Other runs whose COIN is scored on the same slices (same size and window needed).
    #[arg(long, num_args = 1..)]
    compare: Vec<PathBuf>,
    /// cpu, reference, emu, cuda[:N] or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Write into a non-empty --out.
    #[arg(long)]
    force: bool,
}

fn main() {
    let a = Args::parse();
    if let Err(e) = real_main(&a) {
        eprintln!("evaluate: {e}");
        std::process::exit(1);
    }
}

fn real_main(a: &Args) -> Result<(), String> {
    let e = |e: coin::Error| e.to_string();
    coin::set_threads(a.threads).map_err(|e| e.to_string())?;
    let baselines: Vec<Baseline> = if a.baselines.trim() == "none" {
        Vec::new()
    } else {
        a.baselines
            .split(',')
            .map(|s| {
                Baseline::parse(s).ok_or_else(|| {
                    format!("--baselines: unknown '{s}' (rise, layercam, scorecam or none)")
                })
            })
            .collect::<Result<_, _>>()?
    };
    if a.out.is_dir()
        && std::fs::read_dir(&a.out)
            .map_err(|e| e.to_string())?
            .next()
            .is_some()
        && !a.force
    {
        return Err(format!(
            "{} is not empty (pass --force to write into it)",
            a.out.display()
        ));
    }
    let device = coin::gpu::device_from_arg(&a.device).map_err(e)?;
    let checkpoint = coin::train::checkpoint_arg(&a.model, &a.checkpoint).map_err(e)?;
    let model = TrainedModel::open(&a.model, checkpoint.as_deref(), device).map_err(e)?;
    let source = match &a.data {
        None => model.data.clone(),
        Some(root) => DataSource {
            root: Some(root.clone()),
            layout: match a.layout {
                Layout::Totalsegmentator => LayoutKind::TotalSegmentator,
                Layout::Kits => LayoutKind::Kits,
                Layout::Nnunet => LayoutKind::NnUnet,
            },
            ..model.data.clone()
        },
    };
    let cfg = &model.config;
    let splits = prepare(cfg, &source, Some(&model.prep)).map_err(e)?;
    let eval_cfg = cfg.eval_cfg(0);
    let t = Instant::now();
    let test = test_loader(&splits, cfg, device).map_err(e)?;
    let (report, slices) =
        evaluate_coin_keeping_slices(&model.nets, &model.classifier.net, &test, &eval_cfg)
            .map_err(e)?;
    let coin_seconds = t.elapsed().as_secs_f64();
    println!(
        "COIN on {} test slices ({} abnormal): IoU {:.4} in {coin_seconds:.1} s",
        report.slices, report.abnormal_slices, report.iou
    );
    let mut rows: Vec<MethodResult> = coin_rows(
        "COIN",
        &slices,
        eval_cfg.threshold,
        report.validity,
        coin_seconds,
    );
    for other in &a.compare {
        let m = TrainedModel::open(other, None, device).map_err(e)?;
        if m.prep.size != model.prep.size || m.prep.window_hu != model.prep.window_hu {
            return Err(format!(
                "--compare {}: its size {} / window {:?} differ from this run's {} / {:?}, so it cannot be scored on the same slices",
                other.display(), m.prep.size, m.prep.window_hu, model.prep.size, model.prep.window_hu
            ));
        }
        let t = Instant::now();
        let test = test_loader(&splits, cfg, device).map_err(e)?;
        let (r, s) = evaluate_coin_keeping_slices(&m.nets, &m.classifier.net, &test, &eval_cfg)
            .map_err(e)?;
        let name = other
            .file_name()
            .map_or("other".into(), |n| n.to_string_lossy().to_string());
        let mut row = coin_rows(
            &format!("COIN ({name})"),
            &s,
            eval_cfg.threshold,
            r.validity,
            t.elapsed().as_secs_f64(),
        );
        rows.insert(1, row.remove(0));
    }
    let saliency_threshold = a.saliency_threshold.unwrap_or(cfg.eval.saliency_threshold);
    let rise = RiseCfg {
        masks: a.rise_masks,
        ..RiseCfg::default()
    };
    for b in &baselines {
        let bar = coin::io::progress::slice_bar(b.name());
        bar.set_length(slices.len() as u64);
        let row = baseline_row(
            *b,
            &model.classifier.net,
            &slices,
            saliency_threshold,
            rise,
            device,
            |d, _| bar.set_position(d as u64),
        )
        .map_err(e)?;
        bar.finish_and_clear();
        println!("{}: IoU {:.4} in {:.1} s", row.method, row.iou, row.seconds);
        rows.push(row);
    }
    let info = PageInfo {
        title: format!("COIN evaluation: {}", a.model.display()),
        facts: vec![
            format!("model: {} (checkpoint {}, counterfactual step {})", a.model.display(), model.checkpoint.display(), model.step),
            format!("data: {} — {} test slices, {} ground-truth abnormal (every method is scored on the same {})", splits.prep.data_root.display(), report.slices, report.abnormal_slices, slices.len()),
            format!("preprocessing: {}² slices, window [{:.0}, {:.0}] HU", model.prep.size, model.prep.window_hu[0], model.prep.window_hu[1]),
            format!("classifier on the test slices: accuracy {:.4}, F1 {:.4}; COIN flip rate {:.4}, changed pixels on normal slices {:.4}", report.classifier.accuracy, report.classifier.f1, report.flip_rate, report.changed_pixels_normal),
            format!("host: {}, device {device}", coin::host::describe()),
        ],
        notes: vec![
            "IoU and Dice are pooled over all pixels of the ground-truth-abnormal slices (the paper's BinaryJaccardIndex); per-image IoU averages over slices where the prediction or the truth is non-empty.".into(),
            format!("COIN: |x − x_cf| in [0, 1] units above {}; validity: among slices with p(x) > {}, the fraction with |p(x) − p(x_cf)| > {}.", eval_cfg.threshold, eval_cfg.validity_tau, eval_cfg.validity_tau),
            format!("Baselines: min–max normalised saliency above {} at the classifier's layer4; RISE with {} masks (the paper: 6,000), 8×8 grid, p 0.1.", saliency_threshold, a.rise_masks),
            "The paper's Table 1 (256², full widths, a GPU): COIN IoU 0.646 on synthetic tumours and 0.432 on TUH.".into(),
            "FID is out of scope: the Inception weights cannot be fetched here.".into(),
        ],
    };
    let files = write_report(&a.out, &model.run, &rows, &slices, &info).map_err(e)?;
    println!("\n{}", markdown_table(&rows));
    println!(
        "report: {}/index.html ({} files)",
        a.out.display(),
        files.len() + 1
    );
    Ok(())
}
