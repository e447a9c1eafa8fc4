//! `cargo run --release --bin evaluate -- --model RUN_DIR --out REPORT_DIR` — the paper's table
//! for a trained run: COIN (plain and post-processed), the perfect-inpainter ceiling and the
//! attribution baselines (RISE, LayerCAM, ScoreCAM) on the same frozen classifier and the same
//! test slices, as Markdown, JSON, panels, plots and a static `index.html`. See `--help`.

use clap::Parser;
use coin::attribution::RiseCfg;
use coin::cli::{DeviceArg, Failure, ModelArgs};
use coin::data::layout::LayoutKind;
use coin::data::DataSource;
use coin::eval::report::{self, Baseline, EvalOptions, Scored};
use coin::eval::report_page::markdown_table;
use coin::train::data_setup::prepare;
use coin::train::{test_loader, TrainedModel};
use std::path::PathBuf;

/// Evaluate a trained COIN run against the paper's attribution baselines.
///
/// The test split is rebuilt exactly as `train` built it (same slices, same fixed synthetic
/// tumours, same batches), so COIN's numbers equal the run's summary.json. The baselines run
/// on the same frozen classifier and the same ground-truth-abnormal slices.
#[derive(Parser, Debug)]
#[command(version, about, long_about, after_help = coin::cli::EXIT_CODES_HELP)]
struct Args {
    #[command(flatten)]
    trained: ModelArgs,
    /// Evaluate on another data folder (default: the run's data), with the run's preprocessing.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The layout of --data.
    #[arg(long, value_enum, default_value = "totalsegmentator")]
    layout: LayoutKind,
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
    /// Other runs (COIN or Singla et al.) scored on the same slices, each by its own method
    /// (same size and window needed).
    #[arg(long, num_args = 1..)]
    compare: Vec<PathBuf>,
    /// auto, cpu, cuda[:N] (or gpu[:N]), reference or emu.
    #[arg(long, default_value = "auto")]
    device: DeviceArg,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Draw the test split's fixed synthetic tumours as a run seeded with this draws them
    /// (default: the run's seed), to score the same model on the same patients under another
    /// draw (synthetic task only).
    #[arg(long)]
    tumour_seed: Option<u64>,
    /// Write into a non-empty --out.
    #[arg(long)]
    force: bool,
}

fn main() {
    let a = Args::parse();
    coin::cli::main("evaluate", || real_main(&a))
}

/// `--baselines`: a comma-separated list, or `none`.
fn baselines(list: &str) -> Result<Vec<Baseline>, Failure> {
    if list.trim() == "none" {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(|s| {
            Baseline::parse(s).ok_or_else(|| {
                Failure::usage(format!(
                    "--baselines: unknown '{s}' (rise, layercam, scorecam or none)"
                ))
            })
        })
        .collect()
}

/// The report folder must be new or empty unless --force.
fn check_out(a: &Args) -> Result<(), Failure> {
    let busy = a.out.is_dir()
        && std::fs::read_dir(&a.out)
            .map_err(|e| Failure::usage(format!("--out {}: {e}", a.out.display())))?
            .next()
            .is_some();
    if busy && !a.force {
        return Err(Failure::usage(format!(
            "{} is not empty (pass --force to write into it)",
            a.out.display()
        )));
    }
    Ok(())
}

/// The page's lines about the model and its data.
fn facts(a: &Args, model: &TrainedModel, data_root: &std::path::Path) -> Vec<String> {
    let tumours = a.tumour_seed.map(|s| {
        format!(
            "test tumours: drawn as a run seeded {s} draws them (the run's seed: {})",
            model.config.seed
        )
    });
    let mut lines = vec![
        format!(
            "model: {} (checkpoint {}, counterfactual step {})",
            a.trained.model.display(),
            model.checkpoint.display(),
            model.step
        ),
        format!("data: {}", data_root.display()),
        format!(
            "preprocessing: {}² slices, window [{:.0}, {:.0}] HU",
            model.prep.size, model.prep.window_hu[0], model.prep.window_hu[1]
        ),
    ];
    lines.extend(tumours);
    lines
}

fn real_main(a: &Args) -> Result<(), Failure> {
    coin::set_threads(a.threads).map_err(|e| Failure::usage(e.to_string()))?;
    let baselines = baselines(&a.baselines)?;
    check_out(a)?;
    let device = a.device.open()?;
    let model = a.trained.open(device)?;
    model.config.apply_precision();
    let source = match &a.data {
        None if model.bundle => {
            return Err(Failure::usage(format!(
                "{} is a model bundle, which carries no data: give --data DIR (and --layout) to evaluate it on",
                a.trained.model.display()
            )))
        }
        None => model.data.clone(),
        Some(root) => DataSource {
            root: Some(root.clone()),
            layout: a.layout,
            ..model.data.clone()
        },
    };
    let mut cfg = model.config.clone();
    if a.tumour_seed.is_some() {
        cfg.data.test_tumour_seed = a.tumour_seed;
    }
    let cfg = &cfg;
    let splits = prepare(cfg, &source, Some(&model.prep))?;
    let test = test_loader(&splits, cfg, device)?;
    let others: Vec<TrainedModel> = a
        .compare
        .iter()
        .map(|o| TrainedModel::open(o, None, device))
        .collect::<coin::Result<_>>()?;
    let name = |p: &std::path::Path| {
        p.file_name()
            .map_or("other".into(), |n| n.to_string_lossy().to_string())
    };
    let o = EvalOptions {
        model: Scored {
            name: model.nets.cfg.method.label().into(),
            model: model.networks(),
        },
        compare: a
            .compare
            .iter()
            .zip(&others)
            .map(|(p, m)| Scored {
                name: format!("{} ({})", m.nets.cfg.method.label(), name(p)),
                model: m.networks(),
            })
            .collect(),
        test: &test,
        eval: cfg.eval_cfg(0),
        baselines,
        rise: RiseCfg {
            masks: a.rise_masks,
            ..RiseCfg::default()
        },
        saliency_threshold: a.saliency_threshold.unwrap_or(cfg.eval.saliency_threshold),
        device,
        out: a.out.clone(),
        run: model.run.clone(),
        facts: facts(a, &model, &splits.prep.data_root),
    };
    let r = report::run(&o)?;
    println!("\n{}", markdown_table(&r.rows));
    println!(
        "report: {}/index.html ({} files)",
        a.out.display(),
        r.files.len() + 1
    );
    Ok(())
}
