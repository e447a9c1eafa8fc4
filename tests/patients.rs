//! The evaluation's per-patient counts: each slice is counted under the patient its source
//! names, the patients' counts add up to the pooled ones, and with two or more patients the
//! interval over patients brackets the pooled IoU. The smoke model on its two training patients
//! (the test split holds one), scored as the validation scores a split.

use crate::common::files::smoke_model;
use coin::data::loader::{Loader, LoaderConfig};
use coin::eval::{evaluate_coin, Confusion};
use coin::train::data_setup::prepare;
use coin::train::TrainedModel;
use coin::Device;

#[test]
fn patients_counts_add_up_to_the_pooled_counts() {
    let m = TrainedModel::open(smoke_model(), None, Device::Cpu).unwrap();
    let cfg = &m.config;
    let splits = prepare(cfg, &m.data, Some(&m.prep)).unwrap();
    let loader = Loader::new(
        splits.train_plain.clone(),
        LoaderConfig {
            batch: 8,
            ..Default::default()
        },
    )
    .unwrap();
    let r = evaluate_coin(&m.nets, &m.classifier.net, &loader, &cfg.eval_cfg(0)).unwrap();
    let names: Vec<&str> = r.patients.iter().map(|p| p.patient.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| ["patient_000", "patient_001", "patient_002"].contains(n)),
        "training patients by name: {names:?}"
    );
    let mut sum = Confusion::default();
    for p in &r.patients {
        sum.tp += p.confusion.tp;
        sum.fp += p.confusion.fp;
        sum.fn_ += p.confusion.fn_;
        sum.tn += p.confusion.tn;
    }
    assert_eq!(sum, r.confusion);
    assert_eq!(
        r.patients.iter().map(|p| p.slices).sum::<usize>(),
        r.masked_slices
    );
    let (lo, hi) = r.iou_patients_90.expect("two patients give an interval");
    assert!(lo <= r.iou && r.iou <= hi, "{lo} ≤ {} ≤ {hi}", r.iou);
}
