//! Scores classifier checkpoints of one run on its validation and test splits: one JSON line
//! per checkpoint (validation accuracy and BCE, test accuracy, BCE, AUC, false negatives and
//! positives). The study behind `cpu-default`'s classifier stopping rule
//! (`scripts/classifier-replay.sh`, docs/results.md "The classifier's stopping rule,
//! replayed") replays rules over these lines.
//!
//!   cargo run --release --example score_classifier_checkpoints -- [--average W] CKPT...
//!
//! CKPT: checkpoint folders of `train`'s classifier stage (`state.json` + `weights.safetensors`,
//! batch-norm statistics as the stage recalibrated them), in step order, all of one run: with
//! `classifier.keep_validations` the run's `classifier-validations/` holds every validation's.
//! `--average W`: each checkpoint is first folded into a running average
//! (`avg += W·(ckpt − avg)`, parameters), whose batch-norm statistics are then recomputed from
//! the whole training split (unaugmented), and the average is what is scored.

use coin::eval::{evaluate_classifier, ClassifierReport};
use coin::io::load_groups;
use coin::models::Classifier;
use coin::train::data_setup::prepare;
use coin::train::{recalibrate, test_loader, RunState};
use coin::{Device, Error, Result, Tensor};
use std::path::Path;

fn main() {
    if let Err(e) = run() {
        eprintln!("score_classifier_checkpoints: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let average = match args.first().map(String::as_str) {
        Some("--average") if args.len() > 2 => {
            let w: f64 = args[1]
                .parse()
                .map_err(|_| Error::Invalid(format!("--average {}: not a number", args[1])))?;
            args.drain(0..2);
            Some(w)
        }
        _ => None,
    };
    let Some(first) = args.first() else {
        return Err(Error::Invalid(
            "usage: score_classifier_checkpoints [--average W] CKPT...".into(),
        ));
    };
    let record = RunState::read(Path::new(first))?.record;
    let cfg = &record.config;
    let mut splits = prepare(cfg, &record.data, Some(&record.preprocessing))?;
    let test = test_loader(&splits, cfg, Device::Cpu)?;
    splits.test = splits.val.clone();
    let val = test_loader(&splits, cfg, Device::Cpu)?;
    splits.test = splits.train_plain.clone();
    let train: Vec<Tensor> = test_loader(&splits, cfg, Device::Cpu)?
        .epoch(0)
        .map(|b| Ok(b?.images))
        .collect::<Result<_>>()?;
    // Every weight and statistic is loaded from a checkpoint: the init seed does not matter.
    let new = || Classifier::new(cfg.classifier.base, Device::Cpu, 0);
    let mut avg = new()?;
    for (k, folder) in args.iter().enumerate() {
        let live = new()?;
        load_groups(
            &Path::new(folder).join("weights.safetensors"),
            &[&live.group],
        )?;
        let scored = match average {
            None => &live,
            Some(w) => {
                avg.group
                    .lerp_towards(&live.group, if k == 0 { 1.0 } else { w })?;
                recalibrate(&avg.net, &train)?;
                &avg
            }
        };
        let v = evaluate_classifier(&scored.net, &val)?;
        let t = evaluate_classifier(&scored.net, &test)?;
        println!("{}", line(folder, &v, &t));
    }
    Ok(())
}

fn line(folder: &str, v: &ClassifierReport, t: &ClassifierReport) -> String {
    serde_json::json!({
        "checkpoint": folder,
        "val_accuracy": v.accuracy, "val_loss": v.loss,
        "test_accuracy": t.accuracy, "test_loss": t.loss, "test_auc": t.roc_auc,
        "test_false_negatives": t.counts.fn_, "test_false_positives": t.counts.fp,
    })
    .to_string()
}
