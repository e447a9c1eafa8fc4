//! `evaluate`'s procedure: COIN on the test split (and other runs' COIN on the same slices),
//! the attribution baselines on the same frozen classifier and ground-truth-abnormal slices,
//! then the report folder. The caller opens the models and builds the test loader (a run's
//! data and preprocessing are the training side's business); everything else happens here.

use super::{baseline_row, coin_rows, Baseline, MethodKind, MethodResult};
use crate::attribution::RiseCfg;
use crate::data::loader::Loader;
use crate::eval::report_page::{write_report, PageInfo};
use crate::eval::segmentation::EvalSlice;
use crate::eval::{evaluate_coin_keeping_slices, CoinReport, EvalCfg, Networks, Protocol};
use crate::models::Method;
use crate::{host, Device, Error, Result};
use std::path::PathBuf;
use std::time::Instant;

/// One model scored on the test slices.
pub struct Scored<'a> {
    /// The method's name in the table ("COIN", "Singla et al. (other-run)").
    pub name: String,
    pub model: Networks<'a>,
}

/// What `evaluate` runs.
pub struct EvalOptions<'a> {
    /// The model the report is about; its classifier runs the baselines.
    pub model: Scored<'a>,
    /// Other models scored on the same slices (same size and window as `model`).
    pub compare: Vec<Scored<'a>>,
    /// The test split, batched as training's final evaluation batched it.
    pub test: &'a Loader,
    pub eval: EvalCfg,
    pub baselines: Vec<Baseline>,
    pub rise: RiseCfg,
    /// Threshold on the baselines' min–max normalised saliency.
    pub saliency_threshold: f64,
    pub device: Device,
    /// The report folder, and the run folder it links to.
    pub out: PathBuf,
    pub run: PathBuf,
    /// Lines about the model and its data for the page (the host is added here).
    pub facts: Vec<String>,
}

/// What the report holds.
pub struct Report {
    pub rows: Vec<MethodResult>,
    pub coin: CoinReport,
    /// The files written into the report folder besides `index.html`.
    pub files: Vec<String>,
}

/// Scores every method and writes the report folder.
pub fn run(o: &EvalOptions) -> Result<Report> {
    let t = Instant::now();
    let (report, slices) = evaluate_coin_keeping_slices(
        o.model.model.nets,
        o.model.model.classifier,
        o.test,
        &o.eval,
    )?;
    let seconds = t.elapsed().as_secs_f64();
    if report.masked_slices == 0 {
        return Err(crate::Error::Invalid(format!(
            "the test split's {} abnormal slices have no tumour masks, so no method can be scored              (IoU, Dice, the baselines); the run's summary.json has its validity, flip rate and              classifier scores. Label maps with tumour ids (train --labels) give the masks.",
            report.abnormal_slices
        )));
    }
    println!(
        "{} on {} test slices ({} abnormal): IoU {:.4}{} in {seconds:.1} s",
        o.model.name,
        report.slices,
        report.abnormal_slices,
        report.iou,
        report.patients_note()
    );
    let mut rows = coin_rows(
        (&o.model.name, kind_of(&o.model)),
        &slices,
        o.eval.threshold,
        report.validity,
        seconds,
    );
    let mut at = 1;
    if o.model.model.nets.cfg.method == Method::Singla {
        rows.insert(at, authors_protocol_row(o, &o.model)?);
        at += 1;
    }
    for other in &o.compare {
        for row in compare_rows(o, other)? {
            rows.insert(at, row);
            at += 1;
        }
    }
    for &b in &o.baselines {
        rows.push(baseline(o, b, &slices)?);
    }
    let mut facts = o.facts.clone();
    facts.push(format!(
        "data: {} test slices, {} ground-truth abnormal (every method is scored on the same {})",
        report.slices,
        report.abnormal_slices,
        slices.len()
    ));
    facts.push(format!(
        "classifier on the test slices: accuracy {:.4}, F1 {:.4}; COIN flip rate {:.4}, changed pixels on normal slices {:.4}",
        report.classifier.accuracy, report.classifier.f1, report.flip_rate, report.changed_pixels_normal
    ));
    facts.push(format!("host: {}, device {}", host::describe(), o.device));
    let info = PageInfo {
        title: format!("COIN evaluation: {}", o.run.display()),
        facts,
        notes: notes(o),
    };
    let files = write_report(&o.out, &o.run, &rows, &slices, &info)?;
    Ok(Report {
        rows,
        coin: report,
        files,
    })
}

fn kind_of(m: &Scored) -> MethodKind {
    MethodKind::of(m.model.nets.cfg.method)
}

/// Another model's plain row on the same slices, scored by its own method (and a Singla et
/// al. model's row under the authors' protocol too).
fn compare_rows(o: &EvalOptions, other: &Scored) -> Result<Vec<MethodResult>> {
    let (a, b) = (o.model.model.prep, other.model.prep);
    if a.size != b.size || a.window_hu != b.window_hu {
        return Err(Error::Invalid(format!(
            "{}: its size {} / window {:?} differ from this run's {} / {:?}, so it cannot be scored on the same slices",
            other.name, b.size, b.window_hu, a.size, a.window_hu
        )));
    }
    let t = Instant::now();
    let (r, s) =
        evaluate_coin_keeping_slices(other.model.nets, other.model.classifier, o.test, &o.eval)?;
    let mut rows = coin_rows(
        (&other.name, kind_of(other)),
        &s,
        o.eval.threshold,
        r.validity,
        t.elapsed().as_secs_f64(),
    );
    rows.truncate(1);
    if other.model.nets.cfg.method == Method::Singla {
        rows.push(authors_protocol_row(o, other)?);
    }
    Ok(rows)
}

/// A Singla et al. model's plain row as the authors evaluate it: its counterfactual under the
/// condition it trained with (the other class), on the slices with p < 0.2 or p > 0.8 only.
fn authors_protocol_row(o: &EvalOptions, m: &Scored) -> Result<MethodResult> {
    let t = Instant::now();
    let eval = EvalCfg {
        protocol: Protocol::Singla,
        ..o.eval
    };
    let (r, s) = evaluate_coin_keeping_slices(m.model.nets, m.model.classifier, o.test, &eval)?;
    let name = format!("{}, authors' protocol", m.name);
    let mut rows = coin_rows(
        (&name, kind_of(m)),
        &s,
        o.eval.threshold,
        r.validity,
        t.elapsed().as_secs_f64(),
    );
    let mut row = rows.remove(0);
    row.settings = serde_json::json!({
        "condition": "the other class, bin(1 − p)",
        "slices": "p < 0.2 or p > 0.8",
        "validity": "over every kept slice",
        "changed_pixels_normal": r.changed_pixels_normal,
    });
    Ok(row)
}

/// One attribution baseline on the model's classifier, with a progress bar.
fn baseline(o: &EvalOptions, b: Baseline, slices: &[EvalSlice]) -> Result<MethodResult> {
    let bar = crate::io::progress::slice_bar(b.name());
    bar.set_length(slices.len() as u64);
    let row = baseline_row(
        b,
        o.model.model.classifier,
        slices,
        o.saliency_threshold,
        o.rise,
        o.device,
        |d, _| bar.set_position(d as u64),
    )?;
    bar.finish_and_clear();
    println!("{}: IoU {:.4} in {:.1} s", row.method, row.iou, row.seconds);
    Ok(row)
}

fn notes(o: &EvalOptions) -> Vec<String> {
    let singla = std::iter::once(&o.model)
        .chain(&o.compare)
        .any(|m| m.model.nets.cfg.method == Method::Singla);
    let mut notes = vec![
        "IoU and Dice are pooled over all pixels of the ground-truth-abnormal slices (the paper's BinaryJaccardIndex); per-image IoU averages over slices where the prediction or the truth is non-empty.".into(),
        format!("COIN: |x − x_cf| in [0, 1] units above {}; validity: among slices with p(x) > {}, the fraction with |p(x) − p(x_cf)| > {}.", o.eval.threshold, o.eval.validity_tau, o.eval.validity_tau),
        format!("Baselines: min–max normalised saliency above {} at the classifier's layer4; RISE with {} masks (the paper: 6,000), 8×8 grid, p 0.1.", o.saliency_threshold, o.rise.masks),
        "The paper's Table 1 (256², full widths, a GPU): COIN IoU 0.646 on synthetic tumours and 0.432 on TUH.".into(),
        "FID is out of scope: the Inception weights cannot be fetched here.".into(),
    ];
    if singla {
        notes.insert(2, "Singla et al. rows are scored as COIN's: every slice, the generator asked for the slice's normal version (what `segment` does). Their \"authors' protocol\" rows ask for the other class, bin(1 − p), as the method trained, and keep only slices with p < 0.2 or p > 0.8; validity there is over every kept slice, and the changed pixels on its normal slices are in the row's settings.".into());
    }
    notes
}
