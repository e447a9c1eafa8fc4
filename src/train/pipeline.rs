//! The whole run: data → classifier stage → counterfactual stage → evaluation on the test
//! split → `summary.json`. Resumable from the run folder's latest checkpoint.

use super::classifier_stage::ClassifierState;
use super::coin_stage::CoinState;
use super::data_setup::prepare;
use crate::data::{DataSource, Preprocessing};
use super::memory::check_memory;
use super::preset::CoinSelect;
use super::preset::RunConfig;
use super::run_folder::RunDir;
use super::stage::{loader, Stage};
use super::step::CoinStep;
use crate::attribution::RiseCfg;
use crate::eval::report::{baseline_row, Baseline, MethodResult};
use crate::eval::{evaluate_coin_keeping_slices, ClassifierReport, CoinReport};
use crate::io::checkpoint::{latest_checkpoint, load_checkpoint};
use crate::io::figures::{save_line_plot, save_panels};
use crate::io::load_groups;
use crate::models::{Classifier, CoinNets, CoinNetsCfg};
use crate::{host, Device, Error, Result};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

/// Which stages to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stages {
    All,
    Classifier,
    Counterfactual,
}

/// Everything the `train` binary passes in.
pub struct RunOptions {
    pub cfg: RunConfig,
    pub data: DataSource,
    pub out: PathBuf,
    pub device: Device,
    pub resume: bool,
    pub force: bool,
    pub stages: Stages,
    /// The classifier for `--stage counterfactual`: a run folder or a safetensors file.
    pub classifier: Option<PathBuf>,
    /// Initial classifier weights (converted torchvision weights).
    pub classifier_init: Option<PathBuf>,
}

/// The final numbers (also written as `summary.json`).
pub fn run(o: &RunOptions) -> Result<serde_json::Value> {
    let t_all = Instant::now();
    let cfg = &o.cfg;
    let run = RunDir::open(&o.out, o.resume, o.force)?;
    let resumed = if o.resume {
        latest_checkpoint(&run.checkpoints())?
    } else {
        None
    };
    let saved_state: Option<serde_json::Value> = match &resumed {
        Some(folder) => Some(
            serde_json::from_slice(&std::fs::read(folder.join("state.json"))?).map_err(|e| {
                Error::Format(format!("{}: {e}", folder.join("state.json").display()))
            })?,
        ),
        None => None,
    };
    if let Some(s) = &saved_state {
        let was: RunConfig = serde_json::from_value(s["config"].clone())
            .map_err(|e| Error::Format(format!("checkpoint config: {e}")))?;
        if &was != cfg {
            return Err(Error::Invalid("--resume: the configuration differs from the checkpoint's (resume with the same preset or config file)".into()));
        }
    }
    std::fs::write(run.path.join("config.toml"), cfg.to_toml())?;
    let saved_prep: Option<Preprocessing> = saved_state
        .as_ref()
        .and_then(|s| serde_json::from_value(s["preprocessing"].clone()).ok());
    println!(
        "data: preparing ({})",
        o.data
            .root
            .as_ref()
            .map_or("built-in phantom".to_string(), |r| r.display().to_string())
    );
    let splits = prepare(cfg, &o.data, saved_prep.as_ref())?;
    let prep = splits.prep.clone();
    println!(
        "data: {} / {} / {} slices (train / validation / test) from {}, window [{:.0}, {:.0}] HU, {}²",
        splits.counts[0], splits.counts[1], splits.counts[2], prep.data_root.display(), prep.window_hu[0], prep.window_hu[1], cfg.data.size
    );
    check_memory(cfg)?;
    let stage_of = |s: &Option<serde_json::Value>| {
        s.as_ref()
            .and_then(|v| v["stage"].as_str().map(String::from))
    };
    let base_state =
        |stage: &str| json!({"stage": stage, "config": cfg, "preprocessing": prep, "data": o.data});

    // The networks are built once: their initial state is the hand-over checkpoint below.
    let mut nets = CoinNets::new(&coin_nets_cfg(cfg), o.device, cfg.seed)?;
    let mut step = CoinStep::new(&nets, cfg.coin.step.clone())?;

    // ---- classifier
    let mut f = Classifier::new(cfg.classifier.base, o.device, cfg.seed ^ 0xf)?;
    let mut seconds = json!({});
    let mut classifier_report: Option<ClassifierReport> = None;
    let cstage = Stage {
        cfg,
        run: &run,
        device: o.device,
        train: splits.train.clone(),
        val: splits.val.clone(),
    };
    // The counterfactual stage's starting state; its budget is fixed at the hand-over.
    let mut coin_start = CoinState::default();
    let resume_stage = stage_of(&saved_state);
    let classifier_done = resume_stage.as_deref().is_some_and(|s| s != "classifier");
    if o.stages == Stages::Counterfactual || classifier_done {
        let path = match (&o.classifier, classifier_done) {
            (_, true) => run.path.join("classifier.safetensors"),
            (Some(p), _) if p.is_dir() => p.join("classifier.safetensors"),
            (Some(p), _) => p.clone(),
            (None, _) => {
                return Err(Error::Invalid(
                    "--stage counterfactual needs --classifier RUN_DIR|FILE".into(),
                ))
            }
        };
        load_groups(&path, &[&f.group])?;
        // The run folder keeps the classifier it used, so --resume and `segment` find it.
        crate::io::save_groups(&run.path.join("classifier.safetensors"), &[&f.group])?;
        println!("classifier: loaded {}", path.display());
    } else {
        if let Some(init) = &o.classifier_init {
            load_groups(init, &[&f.group])?;
            println!("classifier: initialised from {}", init.display());
        }
        let mut adam = cstage.classifier_adam(&f)?;
        let mut st = ClassifierState::default();
        if let (Some(folder), Some("classifier")) = (&resumed, resume_stage.as_deref()) {
            let s = load_checkpoint(folder, &mut [(&f.group, Some(&mut adam))])?;
            st = serde_json::from_value(s["classifier"].clone())
                .map_err(|e| Error::Format(e.to_string()))?;
            println!("classifier: resuming at step {}", st.step);
        }
        let earlier_s = st.seconds; // the classifier's seconds in earlier sessions
        let t = Instant::now();
        let (st, best) = cstage.run_classifier(&mut f, &mut adam, st, |s| {
            let mut v = base_state("classifier");
            v["classifier"] = json!(s);
            v
        })?;
        seconds["classifier"] = json!(st.seconds);
        println!(
            "classifier: {} steps in {:.0} s; chose step {} ({}): accuracy {:.3}, F1 {:.3}, AUC {}",
            st.step,
            t.elapsed().as_secs_f64(),
            st.best_step,
            if st.stopped_at_accuracy {
                "the first to reach classifier.stop_at_accuracy"
            } else {
                "lowest validation loss"
            },
            best.accuracy,
            best.f1,
            best.roc_auc.map_or("n/a".into(), |v| format!("{v:.3}"))
        );
        if best.accuracy < cfg.classifier.warn_below_accuracy {
            eprintln!(
                "WARNING: the classifier's validation accuracy is {:.3}, below {:.2}: COIN learns from its verdicts, so \
                 counterfactuals and masks will be poor. Give the classifier stage more time (classifier.budget_s) first.",
                best.accuracy, cfg.classifier.warn_below_accuracy
            );
        }
        classifier_report = Some(best);
        coin_start.budget_s = Some(coin_budget(cfg, t_all.elapsed().as_secs_f64() + earlier_s));
        let mut v = base_state("counterfactual");
        v["coin"] = json!(coin_start);
        // The hand-over point: a resume from here goes straight to the counterfactual stage.
        crate::io::checkpoint::save_checkpoint(
            &run.checkpoints(),
            "counterfactual-00000000",
            &[(&nets.eg, Some(&step.opt_g)), (&nets.d, Some(&step.opt_d))],
            &v,
            cfg.coin.keep_checkpoints,
        )?;
        if o.stages == Stages::Classifier {
            return finish(
                &run,
                o,
                &prep,
                Outcome {
                    seconds,
                    classifier_val: classifier_report,
                    test: None,
                    layercam: None,
                    coin: None,
                },
                t_all,
            );
        }
    }

    // ---- counterfactual (a resumed run continues from its checkpoint)
    let mut st = coin_start;
    if let (Some(folder), Some("counterfactual")) = (&resumed, resume_stage.as_deref()) {
        let s = load_checkpoint(
            folder,
            &mut [
                (&nets.eg, Some(&mut step.opt_g)),
                (&nets.d, Some(&mut step.opt_d)),
            ],
        )?;
        st = serde_json::from_value(s["coin"].clone()).map_err(|e| Error::Format(e.to_string()))?;
        if st.step > 0 {
            println!("counterfactual: resuming at step {}", st.step);
        }
    }
    if st.budget_s.is_none() {
        // A borrowed classifier (or a checkpoint from before budgets were recorded): only this
        // session's data preparation has been spent.
        st.budget_s = Some(coin_budget(cfg, t_all.elapsed().as_secs_f64()));
    }
    let stage = Stage {
        cfg,
        run: &run,
        device: o.device,
        train: splits.train_plain.clone(),
        val: splits.val.clone(),
    };
    let st = stage.run_coin(&mut nets, &mut step, &f, st, |s| {
        let mut v = base_state("counterfactual");
        v["coin"] = json!(s);
        v
    })?;
    seconds["counterfactual"] = json!(st.seconds);
    println!("counterfactual: {} steps in {:.0} s", st.step, st.seconds);
    if let (CoinSelect::BestValIou, Some(iou)) = (cfg.coin.select, st.best_iou) {
        let folder = latest_checkpoint(&run.best())?.ok_or_else(|| {
            Error::Format(format!("{}: no best checkpoint", run.best().display()))
        })?;
        load_checkpoint(&folder, &mut [(&nets.eg, None), (&nets.d, None)])?;
        println!(
            "counterfactual: chose step {} (highest validation IoU, {iou:.4})",
            st.best_step
        );
    }

    // ---- evaluation on the test split
    let t = Instant::now();
    let test = test_loader(&splits, cfg, o.device)?;
    let (report, slices) = evaluate_coin_keeping_slices(&nets, &f.net, &test, &cfg.eval_cfg(cfg.eval.samples))?;
    save_panels(&run.path.join("samples").join("test.png"), &report.panels)?;
    seconds["evaluation"] = json!(t.elapsed().as_secs_f64());
    // The cheapest baseline (one forward and backward per 16 slices), on the same slices and
    // scored as `evaluate` scores it.
    let layercam = baseline_row(
        Baseline::LayerCam,
        &f.net,
        &slices,
        cfg.eval.saliency_threshold,
        RiseCfg::default(),
        o.device,
        |_, _| {},
    )?;
    drop(slices);
    seconds["layercam"] = json!(layercam.seconds);
    println!(
        "test: COIN IoU {:.4}, LayerCAM IoU {:.4} ({} abnormal slices)",
        report.iou, layercam.iou, report.abnormal_slices
    );
    finish(
        &run,
        o,
        &prep,
        Outcome {
            seconds,
            classifier_val: classifier_report,
            test: Some(report),
            layercam: Some(layercam),
            coin: Some(st),
        },
        t_all,
    )
}

/// Seconds `total_budget_s` keeps for the test evaluation after the counterfactual stage.
const TEST_RESERVE_S: f64 = 20.0;

/// The counterfactual stage's budget: `coin.budget_s`, or with `total_budget_s` at most what
/// is left of it after `spent` seconds (data, classifier) and the test evaluation.
fn coin_budget(cfg: &RunConfig, spent: f64) -> f64 {
    let own = cfg.coin.budget_s;
    if cfg.total_budget_s <= 0.0 {
        return own;
    }
    let left = (cfg.total_budget_s - spent - TEST_RESERVE_S).max(30.0);
    if left < 60.0 {
        eprintln!(
            "WARNING: total_budget_s {} leaves the counterfactual stage {left:.0} s after {spent:.0} s of data and classifier",
            cfg.total_budget_s
        );
    }
    if own > 0.0 {
        own.min(left)
    } else {
        left
    }
}

/// The test split's loader: the batches, in the order, that the run's final evaluation used
/// (`evaluate` replays them to give the same numbers).
pub fn test_loader(
    splits: &super::data_setup::Splits,
    cfg: &RunConfig,
    device: Device,
) -> Result<crate::data::loader::Loader> {
    loader(splits.test.clone(), 32, 0, false, false, cfg, device)
}

/// The COIN networks a configuration trains.
pub fn coin_nets_cfg(cfg: &RunConfig) -> CoinNetsCfg {
    CoinNetsCfg {
        dataset: cfg.coin.dataset,
        width: cfg.coin.width,
        ..Default::default()
    }
}

/// What the stages produced, for the summary.
struct Outcome {
    seconds: serde_json::Value,
    classifier_val: Option<ClassifierReport>,
    test: Option<CoinReport>,
    layercam: Option<MethodResult>,
    coin: Option<CoinState>,
}

fn finish(
    run: &RunDir,
    o: &RunOptions,
    prep: &Preprocessing,
    out: Outcome,
    t_all: Instant,
) -> Result<serde_json::Value> {
    let cfg = &o.cfg;
    let Outcome {
        mut seconds,
        classifier_val,
        test,
        layercam,
        coin,
    } = out;
    plot_curves(run)?;
    seconds["total_this_session"] = json!(t_all.elapsed().as_secs_f64());
    let s = json!({
        "test_iou": test.as_ref().map(|r| r.iou),
        "test_dice": test.as_ref().map(|r| r.dice),
        "counterfactual_validity": test.as_ref().and_then(|r| r.validity),
        "flip_rate": test.as_ref().map(|r| r.flip_rate),
        "classifier_accuracy": test.as_ref().map(|r| r.classifier.accuracy),
        "classifier_test": test.as_ref().map(|r| &r.classifier),
        "classifier_validation": classifier_val,
        "ceiling_iou": test.as_ref().and_then(|r| r.ceiling_iou),
        "changed_pixels_normal": test.as_ref().map(|r| r.changed_pixels_normal),
        "test_slices": test.as_ref().map(|r| r.slices),
        "test_abnormal_slices": test.as_ref().map(|r| r.abnormal_slices),
        "layercam_iou": layercam.as_ref().map(|r| r.iou),
        "layercam_dice": layercam.as_ref().map(|r| r.dice),
        "threshold": cfg.eval.threshold,
        "saliency_threshold": cfg.eval.saliency_threshold,
        "seconds": seconds,
        "coin_steps": coin.as_ref().map(|c| c.step),
        "coin_select": cfg.coin.select,
        "coin_chosen_step": coin.as_ref().map(|c| match cfg.coin.select {
            CoinSelect::BestValIou if c.best_iou.is_some() => c.best_step,
            _ => c.step,
        }),
        "preset": cfg.name,
        "device": o.device.to_string(),
        "cpu": host::cpu_model(),
        "simd": host::simd_path(),
        "threads": host::threads(),
        "git_commit": host::commit(),
        "data_root": prep.data_root,
        "window_hu": prep.window_hu,
        "fingerprint": prep.fingerprint,
        "size": cfg.data.size,
    });
    crate::io::checkpoint::write_atomic(
        &run.path.join("summary.json"),
        serde_json::to_string_pretty(&s)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    Ok(s)
}

fn plot_curves(run: &RunDir) -> Result<()> {
    let log = run.read_log();
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut push = |name: &str, x: f64, y: f64| match series.iter_mut().find(|s| s.0 == name) {
        Some(s) => s.1.push((x, y)),
        None => series.push((name.to_string(), vec![(x, y)])),
    };
    for l in &log {
        let (Some(stage), Some(step)) = (l["stage"].as_str(), l["step"].as_f64()) else {
            continue;
        };
        if l.get("event").is_some() {
            continue;
        }
        if stage == "classifier" {
            if let Some(v) = l["loss"].as_f64() {
                push("classifier BCE", step, v);
            }
        } else {
            for k in ["d_loss", "g_adv", "g_kl", "g_rec_loss"] {
                if let Some(v) = l[k].as_f64() {
                    push(k, step, v);
                }
            }
        }
    }
    save_line_plot(
        &run.path.join("loss.svg"),
        "training losses",
        "step (per stage)",
        &series,
    )?;
    let val: Vec<(f64, f64)> = log
        .iter()
        .filter(|l| l["event"] == "validation" && l["stage"] == "counterfactual")
        .filter_map(|l| Some((l["t"].as_f64()?, l["val_iou"].as_f64()?)))
        .collect();
    save_line_plot(
        &run.path.join("val_iou.svg"),
        "validation IoU",
        "seconds of the counterfactual stage",
        &[("IoU".to_string(), val)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_budget_bounds_the_counterfactual_stage() {
        let mut cfg = RunConfig::preset("smoke").unwrap();
        cfg.coin.budget_s = 500.0;
        assert_eq!(coin_budget(&cfg, 100.0), 500.0, "no total: the stage's own");
        cfg.total_budget_s = 900.0;
        assert_eq!(
            coin_budget(&cfg, 100.0),
            500.0,
            "the stage's own is smaller"
        );
        assert_eq!(coin_budget(&cfg, 700.0), 900.0 - 700.0 - TEST_RESERVE_S);
        cfg.coin.budget_s = 0.0;
        assert_eq!(coin_budget(&cfg, 100.0), 900.0 - 100.0 - TEST_RESERVE_S);
        assert_eq!(
            coin_budget(&cfg, 2000.0),
            30.0,
            "overspent: a token stage, warned"
        );
    }
}
