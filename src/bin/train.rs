//! `cargo run --release --bin train` — the whole COIN pipeline: data (the built-in phantom or
//! your scans), the classifier stage, the counterfactual-inpainting stage, evaluation on the
//! test split, `summary.json`. See `--help` and `presets/cpu-default.toml`.

use clap::Parser;
use coin::cli::{DeviceArg, Failure};
use coin::data::layout::{LabelIds, LayoutKind};
use coin::data::DataSource;
use coin::train::{default_run_folder, run, RunConfig, RunOptions, Stages};
use std::path::PathBuf;

/// Train COIN (counterfactual inpainting) for weakly supervised tumour segmentation.
///
/// With no arguments: the built-in phantom (written once under data/), the `cpu-default`
/// preset (about 15 minutes on 2 cores), output in runs/cpu-default-<UTC time>/.
#[derive(Parser, Debug)]
#[command(version, about, long_about, after_help = coin::cli::EXIT_CODES_HELP)]
struct Args {
    /// A data folder (default: the built-in phantom).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The layout of --data.
    #[arg(long, value_enum, default_value = "totalsegmentator")]
    layout: LayoutKind,
    /// Label ids as kidney[,kidney…]:tumour[,…]:cyst[,…] (default 1:2:3, the paper's maps;
    /// TotalSegmentator's multilabel maps are 2,3::).
    #[arg(long)]
    labels: Option<String>,
    /// A folder with train_scans.csv and test_scans.csv (layouts without split folders).
    #[arg(long)]
    splits: Option<PathBuf>,
    /// The folder of the organ label maps, `<DIR>/<case>.nii.gz` (default: the layout's own:
    /// nnUNet_predictions/, labelsTr/, case_*/segmentation.nii.gz).
    #[arg(long, requires = "data")]
    labels_dir: Option<PathBuf>,
    /// Image-level slice labels: a CSV with the columns case, slice (or sop_instance_uid) and
    /// label (normal/abnormal or 0/1); an empty slice labels every organ slice of the case.
    /// Training then needs no tumour masks (docs/data.md, "Slice labels").
    #[arg(long, requires = "data")]
    labels_csv: Option<PathBuf>,
    /// A named preset: cpu-default, cpu-anchor, smoke, paper-synthetic, paper-tuh, gpu-check.
    #[arg(long, default_value = "cpu-default", conflicts_with = "config")]
    preset: String,
    /// A TOML configuration with the presets' fields (see presets/cpu-default.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The run folder (default runs/<preset>-<UTC time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// auto, cpu, cuda[:N] (or gpu[:N]), reference or emu; auto takes a GPU when a usable one
    /// and the kernels are present, and says which it chose.
    #[arg(long, default_value = "auto")]
    device: DeviceArg,
    /// Worker threads for the tensor ops (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Overrides the configuration's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Multiplies the wall-clock budgets (e.g. T/1.2 on a host where PyTorch's
    /// 128²/×0.25/B16 COIN step takes T seconds, to give `cpu-anchor` the anchor's work).
    #[arg(long)]
    budget_scale: Option<f64>,
    /// Continue the run in --out from its latest checkpoint.
    #[arg(long, requires = "out")]
    resume: bool,
    /// Start over in a non-empty --out.
    #[arg(long)]
    force: bool,
    /// Run only one stage; `counterfactual` needs --classifier.
    #[arg(long, value_enum, default_value = "all")]
    stage: Stages,
    /// The frozen classifier for --stage counterfactual: a run folder or a .safetensors file.
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Initial classifier weights (e.g. a torchvision ResNet-18 converted by
    /// scripts/convert_state_dict.py); the default trains from scratch.
    #[arg(long)]
    classifier_init: Option<PathBuf>,
    /// Print the resolved configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
}

fn parse_labels(s: &str) -> Result<LabelIds, String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 3 {
        return Err(format!("--labels: expected kidney:tumour:cyst, got '{s}'"));
    }
    let ids = |p: &str| -> Result<Vec<u32>, String> {
        p.split(',')
            .filter(|x| !x.is_empty())
            .map(|x| x.trim().parse().map_err(|e| format!("--labels '{x}': {e}")))
            .collect()
    };
    let l = LabelIds {
        kidney: ids(parts[0])?,
        tumour: ids(parts[1])?,
        cyst: ids(parts[2])?,
    };
    if l.kidney.is_empty() {
        return Err("--labels: at least one kidney label id is needed".into());
    }
    Ok(l)
}

fn main() {
    let a = Args::parse();
    coin::cli::main("train", || real_main(a))
}

/// The configuration the arguments select: a preset or a file, with the seed and budget
/// overrides.
fn config(a: &Args) -> Result<RunConfig, Failure> {
    let mut cfg = match &a.config {
        Some(p) => RunConfig::from_file(p),
        None => RunConfig::preset(&a.preset),
    }
    .map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    if let Some(k) = a.budget_scale {
        if !(k.is_finite() && k > 0.0) {
            return Err(Failure::usage(format!(
                "--budget-scale must be a positive number, got {k}"
            )));
        }
        cfg.classifier.budget_s *= k;
        cfg.coin.budget_s *= k;
        cfg.total_budget_s *= k;
    }
    Ok(cfg)
}

/// The data the arguments name: the built-in phantom, or a folder in a layout.
fn data_source(a: &Args) -> Result<DataSource, Failure> {
    Ok(match &a.data {
        None => DataSource::phantom(),
        Some(root) => DataSource {
            root: Some(root.clone()),
            layout: a.layout,
            labels: a
                .labels
                .as_deref()
                .map(parse_labels)
                .transpose()
                .map_err(Failure::usage)?
                .unwrap_or_else(LabelIds::paper),
            labels_dir: a.labels_dir.clone(),
            labels_csv: a.labels_csv.clone(),
            splits: a.splits.clone(),
        },
    })
}

fn real_main(a: Args) -> Result<(), Failure> {
    let cfg = config(&a)?;
    if a.print_config {
        print!("{}", cfg.to_toml());
        return Ok(());
    }
    coin::set_threads(a.threads).map_err(|e| Failure::usage(e.to_string()))?;
    let device = a.device.open()?;
    let data = data_source(&a)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| default_run_folder(&cfg.name));
    println!(
        "coin train: preset {}, device {}, {} threads, seed {}, output {}",
        cfg.name,
        device,
        coin::host::threads(),
        cfg.seed,
        out.display()
    );
    let o = RunOptions {
        cfg,
        data,
        out: out.clone(),
        device,
        resume: a.resume,
        force: a.force,
        stages: a.stage,
        classifier: a.classifier,
        classifier_init: a.classifier_init,
    };
    let s = run(&o)?;
    println!("\n== summary ({}/summary.json)", out.display());
    println!("{s}");
    Ok(())
}
