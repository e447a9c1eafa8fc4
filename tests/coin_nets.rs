//! COIN's networks: the authors' 320 tensor names and shapes (tests/fixtures/coin_state_dict.txt,
//! copied from shared/docs/coin-state-dict.md, exported from the authors' PyTorch modules) and
//! the parameter counts of that document's table, at widths ×1 and ×0.25 and for TUH.

use coin::models::{Classifier, CoinNets, CoinNetsCfg, Dataset};
use coin::nn::{named_tensors, Ctx, ParamGroup};
use coin::{Device, Tensor};
use std::collections::BTreeMap;

fn count(groups: &[&ParamGroup], prefix: &str) -> usize {
    groups
        .iter()
        .flat_map(|g| g.slots().iter())
        .filter(|s| s.name.starts_with(prefix))
        .map(|s| s.shape.numel())
        .sum()
}

fn build(dataset: Dataset, width: f64) -> (CoinNets, Classifier) {
    let cfg = CoinNetsCfg {
        dataset,
        width,
        ..Default::default()
    };
    let nets = CoinNets::new(&cfg, Device::Cpu, 1).unwrap();
    (nets, Classifier::new(64, Device::Cpu, 2).unwrap())
}

#[test]
fn names_and_shapes_equal_the_authors_state_dict() {
    let (n, f) = build(Dataset::Synthetic, 1.0);
    let ours: BTreeMap<String, Vec<usize>> = named_tensors(&[&n.eg, &n.d, &f.group])
        .into_iter()
        .map(|(k, t)| (k, t.dims().to_vec()))
        .collect();
    let text = include_str!("fixtures/coin_state_dict.txt");
    let theirs: BTreeMap<String, Vec<usize>> = text
        .lines()
        .map(|l| {
            let (name, shape) = l.split_once(' ').unwrap();
            let dims = shape
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().parse().unwrap())
                .collect();
            (name.to_string(), dims)
        })
        .collect();
    assert_eq!(theirs.len(), 320);
    let missing: Vec<_> = theirs.keys().filter(|k| !ours.contains_key(*k)).collect();
    let extra: Vec<_> = ours.keys().filter(|k| !theirs.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    for (k, s) in &theirs {
        assert_eq!(&ours[k], s, "{k}");
    }
    let all = [&n.eg, &n.d, &f.group];
    assert_eq!(count(&all, "enc."), 19_581_504);
    assert_eq!(count(&all, "gen."), 33_525_441);
    assert_eq!(count(&all, "disc."), 38_419_905);
    assert_eq!(count(&all, "classifier_f."), 11_170_753);
}

#[test]
fn parameter_counts_at_quarter_width_and_for_tuh() {
    let (n, f) = build(Dataset::Synthetic, 0.25);
    let all = [&n.eg, &n.d, &f.group];
    assert_eq!(count(&all, "enc."), 1_233_408);
    assert_eq!(count(&all, "gen."), 2_099_889);
    assert_eq!(count(&all, "disc."), 2_403_441);
    assert_eq!(count(&all, "classifier_f."), 11_170_753);
    let (t, _) = build(Dataset::Tuh, 1.0);
    let all = [&t.eg, &t.d, &f.group];
    assert_eq!(count(&all, "disc."), 19_543_489);
    // The document's table gives 314 keys for TUH: its export kept the spectrally normalised
    // 1×1 shortcuts of E and G (10 `u` buffers). The authors' TUH config sets
    // `use_snconv: false` (docs/method.md), so ours are plain convs: 304 keys.
    assert_eq!(named_tensors(&all).len(), 314 - 10);
}

/// `scripts/convert_state_dict.py selftest` converted a torchvision-layout ResNet-18 (base width
/// 4, RGB stem summed, 1-logit head) to our names and saved its eval-mode logits on a ramp.
#[test]
fn a_converted_torchvision_resnet_loads_by_name_and_gives_its_logits() {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/resnet18_tiny.safetensors"
    );
    let all = coin::io::load_tensors(p.as_ref(), Device::Cpu).unwrap();
    let (check, weights): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|(k, _)| k.starts_with("check/"));
    for dev in [Device::Cpu, Device::Reference] {
        let f = Classifier::new(4, dev, 0).unwrap();
        coin::nn::load_named(&[&f.group], weights.clone()).unwrap();
        let get = |n: &str| check.iter().find(|(k, _)| k == n).unwrap().1.clone();
        let logits = f
            .net
            .forward(&get("check/x").to_device(dev), &coin::nn::Ctx::eval())
            .unwrap();
        let (a, b) = (logits.to_vec_f64(), get("check/logits").to_vec_f64());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{dev}: {a:?} vs {b:?}");
        }
    }
}

#[test]
fn a_zero_head_init_starts_the_generator_at_tanh_x_and_changes_nothing_else() {
    let cfg = |head_init_scale| CoinNetsCfg {
        width: 0.125,
        head_init_scale,
        ..Default::default()
    };
    let authors = CoinNets::new(&cfg(1.0), Device::Cpu, 3).unwrap();
    let zero = CoinNets::new(&cfg(0.0), Device::Cpu, 3).unwrap();
    let last = ["gen.last_block.2.weight", "gen.last_block.2.bias"];
    let zero_named: BTreeMap<_, _> = named_tensors(&[&zero.eg, &zero.d]).into_iter().collect();
    for (name, t) in named_tensors(&[&authors.eg, &authors.d]) {
        let (a, z) = (t.to_vec_f64(), zero_named[&name].to_vec_f64());
        if last.contains(&name.as_str()) {
            assert!(
                a.iter().any(|v| *v != 0.0),
                "{name}: the authors' init is not zero"
            );
            assert!(z.iter().all(|v| *v == 0.0), "{name}: scaled to zero");
        } else {
            assert_eq!(a, z, "{name}: the same draws as the authors' init");
        }
    }
    // With r = 0 the perturbation head gives tanh(x) exactly, whatever the features.
    let n = 2 * 32 * 32;
    let xs: Vec<f32> = (0..n)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let x = Tensor::from_f32(xs.clone(), [2, 1, 32, 32], Device::Cpu).unwrap();
    let y = Tensor::from_f32(vec![0.0, 0.0], [2], Device::Cpu).unwrap();
    let ctx = Ctx::eval();
    let feats = zero.enc.forward(&x, &ctx).unwrap();
    let x_cf = zero.gen.forward(&feats, &y, &x, &ctx).unwrap().to_vec_f64();
    for (got, x) in x_cf.iter().zip(&xs) {
        assert!(
            (got - (*x as f64).tanh()).abs() < 1e-6,
            "{got} vs tanh({x})"
        );
    }
}
