//! The whole COIN training step on the CPU backend at the CPU-scale configuration (128², widths
//! ×0.25, classifier base 64, batch 16), measured as the mean step over 5-step D:G cycles (one
//! G+D step and four D-only steps): one warm-up cycle, then each timed sample is one cycle.
//! `COIN_BENCH_THREADS` sets the rayon pool (default: all cores).

use coin::models::{Classifier, CoinNets, CoinNetsCfg};
use coin::train::{CoinStep, StepCfg};
use coin::{Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};

fn step(c: &mut Criterion) {
    if let Ok(t) = std::env::var("COIN_BENCH_THREADS") {
        let n = t.parse().expect("COIN_BENCH_THREADS");
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .ok();
    }
    let (size, batch) = (128, 16);
    let cfg = CoinNetsCfg {
        width: 0.25,
        ..Default::default()
    };
    let mut nets = CoinNets::new(&cfg, Device::Cpu, 1).unwrap();
    let f = Classifier::new(64, Device::Cpu, 2).unwrap();
    let mut st = CoinStep::new(&nets, StepCfg::default()).unwrap();
    let mut rng = coin::rng::Rng::new(3);
    let x = Tensor::from_f32(
        rng.fill(batch * size * size, |r| (0.5 * r.normal()).tanh()),
        [batch, 1, size, size],
        Device::Cpu,
    )
    .unwrap();
    let cycle = |st: &mut CoinStep, nets: &mut CoinNets| {
        for _ in 0..5 {
            st.train_step(nets, &f.net, &x).unwrap();
        }
    };
    cycle(&mut st, &mut nets);
    let mut g = c.benchmark_group("coin_step");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    g.bench_function("mean_step_128_x0.25_b16", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                cycle(&mut st, &mut nets);
            }
            t.elapsed() / 5
        })
    });
}

criterion_group!(benches, step);
criterion_main!(benches);
