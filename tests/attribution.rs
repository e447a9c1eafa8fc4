//! The attribution baselines on a classifier with a known answer: it looks only at the
//! top-left quadrant (its logit is a weighted sum of that quadrant's pixels), and the image has
//! the same bright square in the top-left and the bottom-right quadrants. Every method must put
//! its thresholded saliency (0.975, as the paper) on the top-left square only.

use coin::attribution::{layer_cam, score_cam, CamModel, Rise, RiseCfg};
use coin::nn::Ctx;
use coin::{ops, Device, Result, Tensor};

const S: usize = 32;

/// Four feature channels, each the image inside one quadrant; the logit reads channel 0.
struct QuadrantModel {
    quadrants: Tensor,
    weights: Tensor,
}

impl QuadrantModel {
    fn new() -> QuadrantModel {
        let mut q = vec![0.0f32; 4 * S * S];
        for k in 0..4 {
            for r in 0..S {
                for c in 0..S {
                    let quad = (r >= S / 2) as usize * 2 + (c >= S / 2) as usize;
                    q[k * S * S + r * S + c] = (quad == k) as u8 as f32;
                }
            }
        }
        QuadrantModel {
            quadrants: Tensor::from_f32(q, [1, 4, S, S], Device::Cpu).unwrap(),
            weights: Tensor::from_f32(vec![0.1, 0.0, 0.0, 0.0], [1, 4, 1, 1], Device::Cpu).unwrap(),
        }
    }
}

impl CamModel for QuadrantModel {
    fn logits_and_features(&self, x: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let a = ops::mul(x, &self.quadrants)?;
        let logit = ops::add_scalar(
            &ops::sum(&ops::mul(&a, &self.weights)?, &[1, 2, 3], true)?,
            -1.0,
        )?;
        let n = x.dims()[0];
        Ok((ops::reshape(&logit, &[n, 1])?, a))
    }
}

/// Two 6×6 squares at 1.0 on a 0 background.
fn image() -> Tensor {
    let mut x = vec![0.0f32; S * S];
    for (r0, c0) in [(5, 5), (21, 21)] {
        for r in r0..r0 + 6 {
            for c in c0..c0 + 6 {
                x[r * S + c] = 1.0;
            }
        }
    }
    Tensor::from_f32(x, [1, 1, S, S], Device::Cpu).unwrap()
}

fn assert_on_top_left_square(name: &str, map: &[f32]) {
    assert_eq!(map.len(), S * S);
    let (lo, hi) = map
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(
        lo.abs() < 1e-5 && (hi - 1.0).abs() < 1e-4,
        "{name}: not min-max normalised ({lo}, {hi})"
    );
    let hits: Vec<(usize, usize)> = (0..S * S)
        .filter(|&i| map[i] > 0.975)
        .map(|i| (i / S, i % S))
        .collect();
    assert!(!hits.is_empty(), "{name}: empty mask");
    for (r, c) in &hits {
        assert!(
            (4..12).contains(r) && (4..12).contains(c),
            "{name}: pixel ({r}, {c}) is outside the top-left square; mask {hits:?}"
        );
    }
}

#[test]
fn layer_cam_finds_what_the_classifier_looks_at() {
    let maps = layer_cam(&QuadrantModel::new(), &image()).unwrap();
    assert_on_top_left_square("LayerCAM", &maps[0]);
}

#[test]
fn score_cam_finds_what_the_classifier_looks_at() {
    let maps = score_cam(&QuadrantModel::new(), &image(), 3).unwrap();
    assert_on_top_left_square("ScoreCAM", &maps[0]);
}

#[test]
fn rise_finds_what_the_classifier_looks_at() {
    let cfg = RiseCfg {
        masks: 2000,
        grid: 8,
        p: 0.1,
        batch: 100,
        seed: 3,
    };
    let rise = Rise::new(cfg, S, S).unwrap();
    // The masks: values in [0, 1], about p of the area on average.
    let mean: f64 = (0..200)
        .map(|i| rise.mask(i).unwrap().iter().map(|&v| v as f64).sum::<f64>() / (S * S) as f64)
        .sum::<f64>()
        / 200.0;
    assert!((mean - 0.1).abs() < 0.03, "mean mask value {mean}");
    let maps = rise.saliency(&QuadrantModel::new(), &image()).unwrap();
    assert_on_top_left_square("RISE", &maps[0]);
}
