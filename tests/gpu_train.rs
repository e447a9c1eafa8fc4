//! A tiny conv net trained for a few Adam steps through the ops, the tape and `optim::Adam` on
//! each GPU device (the kernels: forward, backward, gradient accumulation, fused Adam) and on
//! the reference: the losses match.
//!
//! x [4,1,8,8] → conv 1→4 3×3 p1 (+b) → BN(γ,β) → ReLU → conv 4→4 3×3 s2 p1 (+b) → ReLU →
//! mean over H·W → linear 4→1 → BCE with logits.

use super::gpu::{on_devices, randn};
use coin::nn::ParamGroup;
use coin::ops::{self, Conv2dParams};
use coin::optim::{Adam, AdamConfig};
use coin::rng::Rng;
use coin::{Device, Tape, Tensor};

const B: usize = 4;
const LR: f32 = 0.01;

/// An f32 tensor on `dev` (the parameters' dtype).
fn tensor(v: &[f32], dims: &[usize], dev: Device) -> Tensor {
    Tensor::from_f32(v.to_vec(), dims.to_vec(), dev).unwrap()
}

/// Parameter shapes, in order: w1, b1, γ, β, w2, b2, wl, bl.
const SHAPES: [&[usize]; 8] = [
    &[4, 1, 3, 3],
    &[4],
    &[4],
    &[4],
    &[4, 4, 3, 3],
    &[4],
    &[1, 4],
    &[1],
];

fn init() -> Vec<Vec<f32>> {
    let mut r = Rng::new(11);
    SHAPES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let n = s.iter().product();
            match i {
                2 => vec![1.0; n],
                3 => vec![0.0; n],
                _ => randn(&mut r, n).iter().map(|v| v * 0.5).collect(),
            }
        })
        .collect()
}

fn batch(step: u64) -> (Vec<f32>, Vec<f32>) {
    let mut r = Rng::keyed(12, &[step]);
    let labels: Vec<f32> = (0..B).map(|i| (i % 2) as f32).collect();
    let mut x = randn(&mut r, B * 64);
    for (i, &l) in labels.iter().enumerate() {
        // Positives get a bright 3×3 blob.
        if l == 1.0 {
            for p in [18, 19, 20, 26, 27, 28, 34, 35, 36] {
                x[i * 64 + p] += 3.0;
            }
        }
    }
    (x, labels)
}

fn losses(steps: u64, dev: Device) -> Vec<f64> {
    let mut group = ParamGroup::new("net", dev);
    let params: Vec<_> = init()
        .into_iter()
        .enumerate()
        .map(|(i, v)| group.add(&format!("p{i}"), SHAPES[i].to_vec(), v).unwrap())
        .collect();
    let cfg = AdamConfig {
        lr: LR as f64,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        decoupled: false,
    };
    let mut opt = Adam::new(&group, cfg).unwrap();
    let mut losses = Vec::new();
    for step in 0..steps {
        let (xs, ls) = batch(step);
        let tape = Tape::new();
        let p: Vec<Tensor> = params.iter().map(|p| tape.track(&p.value())).collect();
        let x = tensor(&xs, &[B, 1, 8, 8], dev);
        let c1 = ops::conv2d(&x, &p[0], Some(&p[1]), Conv2dParams::new(1, 1)).unwrap();
        let bn = ops::batch_norm(
            &c1,
            ops::Affine {
                gamma: Some(&p[2]),
                beta: Some(&p[3]),
            },
            ops::BnMode::Train {
                state: None,
                momentum: 0.1,
            },
            1e-5,
        )
        .unwrap();
        let r1 = ops::relu(&bn).unwrap();
        let c2 = ops::conv2d(&r1, &p[4], Some(&p[5]), Conv2dParams::new(2, 1)).unwrap();
        let r2 = ops::relu(&c2).unwrap();
        let h = ops::mean(&r2, &[2, 3], false).unwrap();
        let z = ops::linear(&h, &p[6], Some(&p[7])).unwrap();
        let loss = ops::loss::bce_with_logits(&z, &tensor(&ls, &[B, 1], dev)).unwrap();
        losses.push(loss.to_scalar().unwrap());
        let grads = tape.backward(&loss, &p.iter().collect::<Vec<_>>()).unwrap();
        group.zero_grad().unwrap();
        group.accumulate(&grads).unwrap();
        opt.step(&mut group).unwrap();
    }
    losses
}

#[test]
fn tiny_conv_net_trains_the_same_on_the_kernels_and_the_reference() {
    let steps = 6;
    let want = losses(steps, Device::Reference);
    assert!(
        want[steps as usize - 1] < want[0],
        "the reference net learns: {want:?}"
    );
    on_devices("tiny conv net", |_, dev| {
        let device = if dev == "cuda" {
            Device::Cuda(0)
        } else {
            Device::Emu
        };
        let got = losses(steps, device);
        for (s, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 + 1e-3 * b.abs(),
                "{dev} step {s}: {got:?} vs {want:?}"
            );
        }
    });
}
