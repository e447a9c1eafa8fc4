//! `segment`'s path and the evaluation agree on the same slices. The test split's native slices,
//! their fixed synthetic tumours inserted as the dataset inserts them at native resolution
//! (`SliceDataset::native`), go through `eval::run_batch` — what `segment_volume` runs on each
//! batch — in the evaluation's batches: the model inputs equal the evaluation's bit for bit, the
//! masks at the model's size equal its masks bit for bit, and the pooled IoU at native size
//! (the difference resampled to each slice's own size and thresholded there, as `segment`
//! does, against the native tumour) is within 0.01 of the evaluation's.

use crate::common::files::smoke_model;
use coin::data::resize_linear;
use coin::eval::{evaluate_coin_keeping_slices, mask, mask_of, run_batch, Confusion};
use coin::rng::Rng;
use coin::train::data_setup::prepare;
use coin::train::{test_loader, TrainedModel};
use coin::Device;
use std::collections::HashMap;

#[test]
fn segment_sees_what_the_evaluation_sees() {
    let run = smoke_model();
    let dev = Device::Cpu;
    // Two opens of the same checkpoint: spectral norm's vectors move with every forward, so
    // each path starts from the checkpoint's.
    let evaluated = TrainedModel::open(run, None, dev).unwrap();
    let segmenting = TrainedModel::open(run, None, dev).unwrap();
    let cfg = &evaluated.config;
    let splits = prepare(cfg, &evaluated.data, Some(&evaluated.prep)).unwrap();
    let test = test_loader(&splits, cfg, dev).unwrap();
    let eval_cfg = cfg.eval_cfg(0);
    let (report, slices) =
        evaluate_coin_keeping_slices(&evaluated.nets, &evaluated.classifier.net, &test, &eval_cfg)
            .unwrap();
    assert!(
        !slices.is_empty(),
        "the smoke test split has abnormal slices"
    );
    let by_index: HashMap<usize, _> = slices.iter().map(|s| (s.index, s)).collect();
    let size = evaluated.prep.size;
    // The smoke model barely segments: a second threshold, the median of its difference
    // maps on the tumours' pixels (so about half of them are in its mask), makes the
    // native-size comparison non-trivial.
    let mut diffs: Vec<f32> = slices
        .iter()
        .flat_map(|s| {
            let d = coin::eval::difference(&s.x, &s.x_cf);
            d.into_iter()
                .zip(&s.truth)
                .filter(|(_, &t)| t > 0)
                .map(|(d, _)| d)
                .collect::<Vec<f32>>()
        })
        .collect();
    diffs.sort_by(f32::total_cmp);
    let low = diffs[diffs.len() / 2] as f64;
    let mut at_low = Confusion::default();
    for s in &slices {
        at_low.add(mask_of(&s.x, &s.x_cf, low), s.truth.iter().map(|&t| t > 0));
    }
    let thresholds = [(eval_cfg.threshold, report.iou), (low, at_low.iou())];
    let mut native_iou = [Confusion::default(), Confusion::default()];
    let mut compared = 0;
    for b in test.epoch(0) {
        let b = b.unwrap();
        let natives: Vec<_> = b
            .indices
            .iter()
            .map(|&i| splits.test.native(i, &mut Rng::new(0)).unwrap())
            .collect();
        let views: Vec<(&[f32], usize, usize)> = natives
            .iter()
            .map(|n| (n.image.as_slice(), n.rows, n.cols))
            .collect();
        let view = run_batch(segmenting.networks(), &views).unwrap();
        for (k, (&i, n)) in b.indices.iter().zip(&natives).enumerate() {
            let Some(e) = by_index.get(&i) else {
                continue; // a ground-truth-normal slice: the evaluation keeps no map of it
            };
            let at = k * size * size..(k + 1) * size * size;
            assert!(
                view.x[at.clone()] == e.x[..],
                "sample {i}: model inputs differ"
            );
            let ours = mask(&view.difference[at.clone()], eval_cfg.threshold);
            let theirs: Vec<bool> = mask_of(&e.x, &e.x_cf, eval_cfg.threshold).collect();
            assert!(
                ours == theirs,
                "sample {i}: masks at the model's size differ"
            );
            let native = resize_linear(&view.difference[at], size, size, n.rows, n.cols).unwrap();
            let tumour = n.masks.last().unwrap();
            for (c, (t, _)) in native_iou.iter_mut().zip(thresholds) {
                c.add(mask(&native, t).into_iter(), tumour.iter().map(|&t| t > 0));
            }
            compared += 1;
        }
    }
    assert_eq!(compared, slices.len(), "every abnormal slice compared");
    for (c, (t, theirs)) in native_iou.iter().zip(thresholds) {
        let ours = c.iou();
        println!(
            "threshold {t:.4}: pooled IoU at native size {ours:.4}, the evaluation's {theirs:.4}"
        );
        assert!(
            (ours - theirs).abs() <= 0.01,
            "threshold {t}: pooled IoU at native size {ours} vs the evaluation's {theirs}"
        );
    }
    assert!(
        thresholds[1].1 > 0.0,
        "the second threshold segments something"
    );
}
