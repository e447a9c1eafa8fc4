//! A tiny conv net trained for a few Adam steps with the CUDA kernels (forward, hand-chained
//! backward, fused Adam) and with the reference ops + tape + `optim::Adam`: the losses match.
//!
//! x [4,1,8,8] → conv 1→4 3×3 p1 (+b) → BN(γ,β) → ReLU → conv 4→4 3×3 s2 p1 (+b) → ReLU →
//! mean over H·W → linear 4→1 → BCE with logits.

use super::gpu::{on_devices, randn};
use coin::gpu::kernels::{self as k, BinaryOp, Layout};
use coin::gpu::{DevBuf, Gpu};
use coin::nn::ParamGroup;
use coin::ops::{self, Conv2dParams, Unary};
use coin::optim::{Adam, AdamConfig};
use coin::rng::Rng;
use coin::{Device, Tape, Tensor};

const B: usize = 4;
const LR: f32 = 0.01;

/// An f32 tensor on the reference device (the parameters' dtype).
fn reference(v: &[f32], dims: &[usize]) -> Tensor {
    Tensor::from_f32(v.to_vec(), dims.to_vec(), Device::Reference).unwrap()
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

fn reference_losses(steps: u64) -> Vec<f64> {
    let mut group = ParamGroup::new("net", Device::Reference);
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
        let x = reference(&xs, &[B, 1, 8, 8]);
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
        let loss = ops::loss::bce_with_logits(&z, &reference(&ls, &[B, 1])).unwrap();
        losses.push(loss.to_scalar().unwrap());
        let grads = tape.backward(&loss, &p.iter().collect::<Vec<_>>()).unwrap();
        group.zero_grad().unwrap();
        group.accumulate(&grads).unwrap();
        opt.step(&mut group).unwrap();
    }
    losses
}

struct Net {
    p: Vec<DevBuf>,
    g: Vec<DevBuf>,
    m: Vec<DevBuf>,
    v: Vec<DevBuf>,
}

fn gpu_losses(g: &Gpu, steps: u64) -> Vec<f64> {
    let init = init();
    let zeros = |n: usize| g.upload(&vec![0.0; n]).unwrap();
    let net = Net {
        p: init.iter().map(|v| g.upload(v).unwrap()).collect(),
        g: init.iter().map(|v| zeros(v.len())).collect(),
        m: init.iter().map(|v| zeros(v.len())).collect(),
        v: init.iter().map(|v| zeros(v.len())).collect(),
    };
    let g1 = k::conv_geom([B, 1, 8, 8], [4, 1, 3, 3], 1, 1).unwrap();
    let g2 = k::conv_geom([B, 4, 8, 8], [4, 4, 3, 3], 2, 1).unwrap();
    let (n1, n2) = (B * 4 * 64, B * 4 * 16);
    let buf = |n: usize| g.alloc_f32(n).unwrap();
    let (c1, bn, r1, c2, r2) = (buf(n1), buf(n1), buf(n1), buf(n2), buf(n2));
    let (h, z, terms, loss) = (buf(B * 4), buf(B), buf(B), buf(1));
    let stats: Vec<DevBuf> = (0..5).map(|_| buf(4)).collect();
    let ws = buf(k::conv2d_bwd_weight_workspace(&g1).max(k::conv2d_bwd_weight_workspace(&g2)));
    let (dz, dh, dr2, dc2, dr1, dbn, dc1) = (
        buf(B),
        buf(B * 4),
        buf(n2),
        buf(n2),
        buf(n1),
        buf(n1),
        buf(n1),
    );
    let ones2 = g.upload(&vec![1.0; n2]).unwrap();
    let tmp = buf(B * 4 * 4);
    let mut losses = Vec::new();
    for step in 0..steps {
        let (xs, ls) = batch(step);
        let (x, t) = (g.upload(&xs).unwrap(), g.upload(&ls).unwrap());
        // Forward.
        k::conv2d_fwd(g, &x, &net.p[0], Some(&net.p[1]), &c1, &g1).unwrap();
        k::bn_stats(
            g,
            &c1,
            [&stats[0], &stats[1], &stats[2]],
            [B, 4, 8, 8],
            1e-5,
        )
        .unwrap();
        k::bn_apply(
            g,
            &c1,
            &stats[0],
            &stats[1],
            Some(&net.p[2]),
            Some(&net.p[3]),
            &bn,
            [B, 4, 8, 8],
        )
        .unwrap();
        k::unary_fwd(g, Unary::Relu, &bn, &r1, n1).unwrap();
        k::conv2d_fwd(g, &r1, &net.p[4], Some(&net.p[5]), &c2, &g2).unwrap();
        k::unary_fwd(g, Unary::Relu, &c2, &r2, n2).unwrap();
        k::reduce(g, &r2, &h, [B * 4, 16, 1], 1.0 / 16.0).unwrap();
        k::gemm(
            g,
            (&h, Layout::Plain),
            (&net.p[6], Layout::Transposed),
            Some(&net.p[7]),
            &z,
            [B, 1, 4],
            false,
        )
        .unwrap();
        k::bce_with_logits(g, &z, &t, &terms, &loss, B).unwrap();
        losses.push(g.download(&loss).unwrap()[0] as f64);
        // Backward (every kernel accumulates: zero the gradients first).
        for b in net.g.iter().chain([&dz, &dh, &dc2, &dr1, &dbn, &dc1]) {
            k::fill(g, b, b.len(), 0.0).unwrap();
        }
        k::bce_with_logits_bwd(g, &z, &t, Some(&dz), None, None, B).unwrap();
        k::gemm(
            g,
            (&dz, Layout::Transposed),
            (&h, Layout::Plain),
            None,
            &net.g[6],
            [1, 4, B],
            true,
        )
        .unwrap();
        k::reduce(g, &dz, &net.g[7], [1, B, 1], 1.0).unwrap();
        k::gemm(
            g,
            (&dz, Layout::Plain),
            (&net.p[6], Layout::Plain),
            None,
            &dh,
            [B, 4, 1],
            true,
        )
        .unwrap();
        k::binary(
            g,
            BinaryOp::Mul,
            (&dh, &[B, 4, 1, 1]),
            (&ones2, &[B, 4, 4, 4]),
            &dr2,
        )
        .unwrap();
        k::unary_fwd(g, Unary::MulScalar(1.0 / 16.0), &dr2, &dr2, n2).unwrap();
        k::unary_bwd(g, Unary::Relu, &c2, &r2, &dr2, &dc2, n2).unwrap();
        k::conv2d_bwd_weight(g, &r1, &dc2, &net.g[4], &ws, &g2).unwrap();
        k::reduce(g, &dc2, &tmp, [B * 4, 16, 1], 1.0).unwrap();
        k::reduce(g, &tmp, &net.g[5], [1, B, 4], 1.0).unwrap();
        k::conv2d_bwd_data(g, &net.p[4], &dc2, &dr1, &g2).unwrap();
        k::unary_bwd(g, Unary::Relu, &bn, &r1, &dr1, &dbn, n1).unwrap();
        k::bn_backward(
            g,
            &c1,
            &dbn,
            &stats[0],
            &stats[1],
            Some(&net.p[2]),
            [&net.g[3], &net.g[2]],
            &dc1,
            [B, 4, 8, 8],
        )
        .unwrap();
        k::conv2d_bwd_weight(g, &x, &dc1, &net.g[0], &ws, &g1).unwrap();
        let t1 = buf(B * 4);
        k::reduce(g, &dc1, &t1, [B * 4, 64, 1], 1.0).unwrap();
        k::reduce(g, &t1, &net.g[1], [1, B, 4], 1.0).unwrap();
        // Adam on every parameter.
        for i in 0..8 {
            let s = k::AdamStep {
                lr: LR,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
                decoupled: false,
                t: step as i32 + 1,
            };
            k::adam(
                g,
                [&net.p[i], &net.g[i], &net.m[i], &net.v[i]],
                net.p[i].len(),
                s,
            )
            .unwrap();
        }
    }
    losses
}

#[test]
fn tiny_conv_net_trains_the_same_on_the_kernels_and_the_reference() {
    let steps = 6;
    let want = reference_losses(steps);
    assert!(
        want[steps as usize - 1] < want[0],
        "the reference net learns: {want:?}"
    );
    on_devices("tiny conv net", |g, dev| {
        let got = gpu_losses(g, steps);
        for (s, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 + 1e-3 * b.abs(),
                "{dev} step {s}: {got:?} vs {want:?}"
            );
        }
    });
}
