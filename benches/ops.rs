//! Criterion benchmarks of the fast CPU backend at the networks' CPU-scale shapes
//! (benches/shapes.rs). Convolutions report FLOP/s (2·N·Cout·Ho·Wo·Cin·Kh·Kw per pass, as
//! elements/s ×1 FLOP), memory-bound ops bytes/s (read + written), beside a plain memcpy of
//! the same bytes. `scripts/bench-compare.sh` runs this and the PyTorch side in one go.

use coin::ops::{self, Conv2dParams};
use coin::rng::Rng;
use coin::{Device, Tensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

#[path = "shapes.rs"]
mod shapes;

fn randn(rng: &mut Rng, dims: &[usize]) -> Tensor {
    let n: usize = dims.iter().product();
    Tensor::from_f32(rng.fill(n, |r| r.normal()), dims.to_vec(), Device::Cpu).unwrap()
}

fn conv(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv2d");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let mut rng = Rng::new(1);
    for &(name, n, cin, cout, h, w, k, s, p, bias) in shapes::CONVS {
        let x = randn(&mut rng, &[n, cin, h, w]);
        let wt = randn(&mut rng, &[cout, cin, k, k]);
        let b = bias.then(|| randn(&mut rng, &[cout]));
        let prm = Conv2dParams::new(s, p);
        let y = ops::conv2d(&x, &wt, b.as_ref(), prm).unwrap();
        let (ho, wo) = (y.dims()[2], y.dims()[3]);
        let flops = 2 * n * cout * ho * wo * cin * k * k;
        g.throughput(Throughput::Elements(flops as u64));
        g.bench_function(BenchmarkId::new("fwd", name), |bch| {
            bch.iter(|| ops::conv2d(&x, &wt, b.as_ref(), prm).unwrap())
        });
        let dy = randn(&mut rng, y.dims());
        g.bench_function(BenchmarkId::new("bwd_data", name), |bch| {
            bch.iter(|| ops::conv2d_backward_data(&dy, &wt, [n, cin, h, w], prm).unwrap())
        });
        g.bench_function(BenchmarkId::new("bwd_weight", name), |bch| {
            bch.iter(|| ops::conv2d_backward_weight(&dy, &x, [cout, cin, k, k], prm).unwrap())
        });
    }
    g.finish();
}

fn memory_bound(c: &mut Criterion) {
    let mut g = c.benchmark_group("memory");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let mut rng = Rng::new(2);
    for &(name, n, ch, h, w) in shapes::PLANES {
        let x = randn(&mut rng, &[n, ch, h, w]);
        let bytes = (x.numel() * 4) as u64;
        let gamma = randn(&mut rng, &[ch]);
        let beta = randn(&mut rng, &[ch]);
        g.throughput(Throughput::Bytes(2 * bytes));
        let src = x.to_vec_f32();
        g.bench_function(BenchmarkId::new("memcpy", name), |b| b.iter(|| src.clone()));
        g.bench_function(BenchmarkId::new("batch_norm_train_fwd", name), |b| {
            b.iter(|| {
                ops::batch_norm(
                    &x,
                    ops::Affine {
                        gamma: Some(&gamma),
                        beta: Some(&beta),
                    },
                    ops::BnMode::Train {
                        state: None,
                        momentum: 0.1,
                    },
                    1e-5,
                )
                .unwrap()
            })
        });
        g.bench_function(BenchmarkId::new("relu", name), |b| {
            b.iter(|| ops::relu(&x).unwrap())
        });
        g.throughput(Throughput::Bytes(3 * bytes));
        let tape = coin::Tape::new();
        g.bench_function(BenchmarkId::new("batch_norm_train_fwd_bwd", name), |b| {
            b.iter(|| {
                let xt = tape.track(&x);
                let y = ops::batch_norm(
                    &xt,
                    ops::Affine {
                        gamma: Some(&gamma),
                        beta: Some(&beta),
                    },
                    ops::BnMode::Train {
                        state: None,
                        momentum: 0.1,
                    },
                    1e-5,
                )
                .unwrap();
                let l = ops::sum_all(&y).unwrap();
                tape.backward(&l, &[&xt]).unwrap()
            })
        });
        // Upsampling ×2: reads the input once, writes 4× its size.
        g.throughput(Throughput::Bytes(5 * bytes));
        g.bench_function(BenchmarkId::new("upsample_nearest2", name), |b| {
            b.iter(|| ops::upsample_nearest(&x, 2).unwrap())
        });
        g.bench_function(BenchmarkId::new("upsample_bilinear2_ac", name), |b| {
            b.iter(|| ops::resize_bilinear(&x, 2 * h, 2 * w, true).unwrap())
        });
        g.throughput(Throughput::Bytes(bytes + bytes / 4));
        g.bench_function(BenchmarkId::new("avg_pool2", name), |b| {
            b.iter(|| ops::avg_pool2d(&x, 2).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, conv, memory_bound);
criterion_main!(benches);
