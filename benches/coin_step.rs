//! The whole COIN training step on the CPU backend at the CPU-scale configuration (128², widths
//! ×0.25, classifier base 64, batch 16), measured as the mean step over 5-step D:G cycles (one
//! G+D step and four D-only steps): one warm-up cycle, then each timed sample is one cycle.
//! `COIN_BENCH_THREADS` sets the rayon pool (default: all cores).
//!
//! With `COIN_STEP_REPORT=FILE` it runs scripts/bench-coin-step.py's protocol instead of
//! criterion's — one warm-up cycle, three timed cycles, then each part of the step (one warm-up
//! and three timed runs) — and writes one JSON object to FILE (scripts/bench-coin-step.sh
//! prints it beside PyTorch's). With `COIN_STEP_PROFILE=classifier|disc|eg|step` it runs only
//! that part, 20 times, for a profiler (`perf record … --bench`).

use coin::models::{Classifier, CoinNets, CoinNetsCfg};
use coin::nn::Ctx;
use coin::ops::loss::l1;
use coin::train::{d_loss, AdvLoss, CoinStep, StepCfg};
use coin::{no_grad, ops, Device, Tape, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};

const SIZE: usize = 128;
const BATCH: usize = 16;

struct Setup {
    nets: CoinNets,
    f: Classifier,
    st: CoinStep,
    x: Tensor,
}

fn setup() -> Setup {
    if let Ok(t) = std::env::var("COIN_BENCH_THREADS") {
        let n = t.parse().expect("COIN_BENCH_THREADS");
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .ok();
    }
    let cfg = CoinNetsCfg {
        width: 0.25,
        ..Default::default()
    };
    let nets = CoinNets::new(&cfg, Device::Cpu, 1).unwrap();
    let f = Classifier::new(64, Device::Cpu, 2).unwrap();
    let st = CoinStep::new(&nets, StepCfg::default()).unwrap();
    let mut rng = coin::rng::Rng::new(3);
    let x = Tensor::from_f32(
        rng.fill(BATCH * SIZE * SIZE, |r| (0.5 * r.normal()).tanh()),
        [BATCH, 1, SIZE, SIZE],
        Device::Cpu,
    )
    .unwrap();
    Setup { nets, f, st, x }
}

/// One 5-step cycle; the seconds of each step.
fn cycle(s: &mut Setup) -> Vec<f64> {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            s.st.train_step(&mut s.nets, &s.f.net, &s.x).unwrap();
            t.elapsed().as_secs_f64()
        })
        .collect()
}

fn mean_of_three(mut run: impl FnMut()) -> f64 {
    run();
    (0..3)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed().as_secs_f64()
        })
        .sum::<f64>()
        / 3.0
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn report(path: &str) {
    let mut s = setup();
    cycle(&mut s);
    let cycles: Vec<Vec<f64>> = (0..3).map(|_| cycle(&mut s)).collect();
    let mean_step = cycles.iter().flatten().sum::<f64>() / 15.0;
    let gd = cycles.iter().map(|c| c[0]).sum::<f64>() / 3.0;
    let d_only = cycles
        .iter()
        .map(|c| c[1..].iter().sum::<f64>())
        .sum::<f64>()
        / 12.0;
    let x = s.x.clone();
    let c0 = Tensor::from_i64(vec![0; BATCH], [BATCH], Device::Cpu).unwrap();
    let f = &s.f.net;
    let nets = &s.nets;
    let parts = serde_json::json!({
        "classifier forward (no grad)": mean_of_three(|| {
            no_grad(|| f.forward(&x, &Ctx::eval())).unwrap();
        }),
        "classifier forward + input gradient": mean_of_three(|| {
            let tape = Tape::new();
            let xi = tape.track(&x);
            let y = ops::sum_all(&f.forward(&xi, &Ctx::frozen(&tape)).unwrap()).unwrap();
            tape.backward(&y, &[&xi]).unwrap();
        }),
        "D forward x2 + backward": mean_of_three(|| {
            let tape = Tape::new();
            let ctx = Ctx::train(&tape);
            let fake = ops::neg(&x).unwrap();
            let real = nets.disc.forward(&x, &c0, &ctx).unwrap();
            let fake = nets.disc.forward(&fake, &c0, &ctx).unwrap();
            let l = d_loss(AdvLoss::Bce, &real, &fake).unwrap();
            let wrt = nets.d.tensors();
            tape.backward(&l.total, &wrt.iter().collect::<Vec<_>>()).unwrap();
        }),
        "E/G forward x2 + backward (cyclic)": mean_of_three(|| {
            let tape = Tape::new();
            let ctx = Ctx::train(&tape);
            let x_cf = nets.gen.forward(&nets.enc.forward(&x, &ctx).unwrap(), &c0, &x, &ctx).unwrap();
            let x_cc = nets.gen.forward(&nets.enc.forward(&x_cf, &ctx).unwrap(), &c0, &x_cf, &ctx).unwrap();
            let l = ops::add(&l1(&x, &x_cf).unwrap(), &l1(&x, &x_cc).unwrap()).unwrap();
            let wrt = nets.eg.tensors();
            tape.backward(&l, &wrt.iter().collect::<Vec<_>>()).unwrap();
        }),
    });
    let out = serde_json::json!({
        "impl": "coin-rs",
        "isa": coin::ops::conv::simd_path(),
        "threads": rayon::current_num_threads(),
        "mean_step_s": mean_step,
        "gd_step_s": gd,
        "d_step_s": d_only,
        "parts_s": parts,
        "peak_rss_mb": peak_rss_mb(),
    });
    std::fs::write(path, out.to_string()).expect("COIN_STEP_REPORT");
}

fn profile(part: &str) {
    let mut s = setup();
    let x = s.x.clone();
    for _ in 0..20 {
        match part {
            "classifier" => {
                no_grad(|| s.f.net.forward(&x, &Ctx::eval())).unwrap();
            }
            "step" => {
                s.st.train_step(&mut s.nets, &s.f.net, &x).unwrap();
            }
            "disc" | "eg" => {
                let tape = Tape::new();
                let ctx = Ctx::train(&tape);
                let c0 = Tensor::from_i64(vec![0; BATCH], [BATCH], Device::Cpu).unwrap();
                let (l, wrt) = if part == "disc" {
                    let real = s.nets.disc.forward(&x, &c0, &ctx).unwrap();
                    (ops::sum_all(&real).unwrap(), s.nets.d.tensors())
                } else {
                    let e = s.nets.enc.forward(&x, &ctx).unwrap();
                    let y = s.nets.gen.forward(&e, &c0, &x, &ctx).unwrap();
                    (l1(&x, &y).unwrap(), s.nets.eg.tensors())
                };
                tape.backward(&l, &wrt.iter().collect::<Vec<_>>()).unwrap();
            }
            other => panic!("COIN_STEP_PROFILE={other}: classifier, disc, eg or step"),
        }
    }
}

fn step(c: &mut Criterion) {
    if let Ok(part) = std::env::var("COIN_STEP_PROFILE") {
        profile(&part);
        return;
    }
    if let Ok(path) = std::env::var("COIN_STEP_REPORT") {
        report(&path);
        return;
    }
    let mut s = setup();
    cycle(&mut s);
    let mut g = c.benchmark_group("coin_step");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    g.bench_function("mean_step_128_x0.25_b16", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                cycle(&mut s);
            }
            t.elapsed() / 5
        })
    });
}

criterion_group!(benches, step);
criterion_main!(benches);
