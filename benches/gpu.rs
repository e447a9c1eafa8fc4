//! Criterion benchmarks of the CUDA kernels at the paper's shapes (batch 16, 256² → 8², channels
//! 64 … 1536), reporting FLOP/s (convolutions, GEMM: elements/s × 1 FLOP) or bytes/s read +
//! written (memory-bound kernels), each through the op API (allocation is stream-ordered, so an
//! op's output costs no host sync). They need a real GPU: without one they print a skip line and
//! measure nothing (CI only builds them). `scripts/gpu-check.sh` runs them on a lent machine
//! beside the same shapes in PyTorch/cuDNN. The convolutions run at each GPU precision
//! (`fwd` FP32, `fwd-tf32`, `fwd-3xtf32`, …; `ops::precision`).

use coin::nn::ParamGroup;
use coin::ops::{self, Conv2dParams, Precision};
use coin::optim::{Adam, AdamConfig};
use coin::{Device, Tape, Tensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

/// (name, batch, cin, cout, h, k, stride, pad).
type ConvShape = (
    &'static str,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

/// The generator's and discriminator's convolutions at the paper's scale.
pub const CONVS: &[ConvShape] = &[
    ("stem_1to64_256", 16, 1, 64, 256, 3, 1, 1),
    ("enc_64to64_256", 16, 64, 64, 256, 3, 1, 1),
    ("enc_64to128_s2_256", 16, 64, 128, 256, 3, 2, 1),
    ("enc_128to128_128", 16, 128, 128, 128, 3, 1, 1),
    ("enc_256to256_64", 16, 256, 256, 64, 3, 1, 1),
    ("enc_512to512_32", 16, 512, 512, 32, 3, 1, 1),
    ("enc_1024to1024_16", 16, 1024, 1024, 16, 3, 1, 1),
    ("bottleneck_1536to1024_8", 16, 1536, 1024, 8, 3, 1, 1),
    ("out_64to1_256", 16, 64, 1, 256, 3, 1, 1),
    ("cls_stem_1to64_7x7_s2_256", 16, 1, 64, 256, 7, 2, 3),
];

/// The degenerate layers' passes as bandwidth rows: (pass, CONVS name) — one channel on a GEMM
/// side (Cout = 1, Cin = 1: kernels/conv.cu's thin kernels), stride-2 backward-data (its phase
/// GEMMs) and the 8×8 bottleneck (split-K). Their throughput is the bytes no kernel can avoid
/// moving — input, weights and output each read or written once — so the table's "of ceiling"
/// column (copy bandwidth) says how near each comes to its floor.
const DEGENERATE: &[(&str, &str)] = &[
    ("fwd", "out_64to1_256"),
    ("bwd_weight", "out_64to1_256"),
    ("bwd_data", "stem_1to64_256"),
    ("bwd_data", "cls_stem_1to64_7x7_s2_256"),
    ("bwd_data", "enc_64to128_s2_256"),
    ("fwd", "bottleneck_1536to1024_8"),
    ("bwd_data", "bottleneck_1536to1024_8"),
];
const DEV: Device = Device::Cuda(0);

fn filled(dims: &[usize], v: f32) -> Tensor {
    Tensor::full(v as f64, dims.to_vec(), coin::DType::F32, DEV)
}

fn sync() {
    coin::gpu::for_device(DEV).unwrap().synchronize().unwrap()
}

fn bench(c: &mut Criterion) {
    if let Err(e) = coin::gpu::for_device(DEV) {
        eprintln!("SKIPPED GPU benchmarks: {e}");
        return;
    }
    // COIN_GPU_BENCH_QUICK=1 (the lent-GPU check, one minute for everything): shorter runs.
    let quick = std::env::var("COIN_GPU_BENCH_QUICK").as_deref() == Ok("1");
    let (samples, warm, measure) = if quick {
        (10, Duration::from_millis(50), Duration::from_millis(200))
    } else {
        (20, Duration::from_millis(300), Duration::from_secs(1))
    };
    let mut grp = c.benchmark_group("gpu_conv2d");
    grp.sample_size(samples)
        .warm_up_time(warm)
        .measurement_time(measure);
    for &(name, n, cin, cout, h, kk, s, p) in CONVS {
        let prm = Conv2dParams::new(s, p);
        let x = filled(&[n, cin, h, h], 0.5);
        let w = filled(&[cout, cin, kk, kk], 0.01);
        let y = ops::conv2d(&x, &w, None, prm).unwrap();
        let (ho, wo) = (y.dims()[2], y.dims()[3]);
        let flops = 2 * n * cout * ho * wo * cin * kk * kk;
        grp.throughput(Throughput::Elements(flops as u64));
        // Each pass at each precision: `fwd` (FP32), `fwd-tf32`, `fwd-3xtf32`, …
        for p in Precision::ALL {
            ops::set_gpu_precision(p, Precision::Fp32);
            let id = |pass: &str| match p {
                Precision::Fp32 => pass.to_string(),
                _ => format!("{pass}-{p}"),
            };
            grp.bench_function(BenchmarkId::new(id("fwd"), name), |b| {
                b.iter(|| {
                    ops::conv2d(&x, &w, None, prm).unwrap();
                    sync()
                })
            });
            grp.bench_function(BenchmarkId::new(id("bwd_data"), name), |b| {
                b.iter(|| {
                    ops::conv2d_backward_data(&y, &w, [n, cin, h, h], prm).unwrap();
                    sync()
                })
            });
            grp.bench_function(BenchmarkId::new(id("bwd_weight"), name), |b| {
                b.iter(|| {
                    ops::conv2d_backward_weight(&y, &x, [cout, cin, kk, kk], prm).unwrap();
                    sync()
                })
            });
        }
        ops::set_gpu_precision(Precision::Fp32, Precision::Fp32);
    }
    grp.finish();

    let mut grp = c.benchmark_group("gpu_degenerate");
    grp.sample_size(samples)
        .warm_up_time(warm)
        .measurement_time(measure);
    for &(pass, conv) in DEGENERATE {
        let Some(&(name, n, cin, cout, h, kk, s, p)) = CONVS.iter().find(|c| c.0 == conv) else {
            panic!("DEGENERATE names {conv}, which CONVS lacks");
        };
        let prm = Conv2dParams::new(s, p);
        let x = filled(&[n, cin, h, h], 0.5);
        let w = filled(&[cout, cin, kk, kk], 0.01);
        let y = ops::conv2d(&x, &w, None, prm).unwrap();
        let floor = 4 * (x.numel() + w.numel() + y.numel());
        grp.throughput(Throughput::Bytes(floor as u64));
        grp.bench_function(BenchmarkId::new(pass, name), |b| {
            b.iter(|| {
                match pass {
                    "fwd" => ops::conv2d(&x, &w, None, prm).map(drop),
                    "bwd_data" => ops::conv2d_backward_data(&y, &w, [n, cin, h, h], prm).map(drop),
                    _ => ops::conv2d_backward_weight(&y, &x, [cout, cin, kk, kk], prm).map(drop),
                }
                .unwrap();
                sync()
            })
        });
    }
    grp.finish();

    let mut grp = c.benchmark_group("gpu_memory");
    grp.sample_size(samples)
        .warm_up_time(warm)
        .measurement_time(measure);
    let (n, ch, h) = (16usize, 64usize, 256usize);
    let total = n * ch * h * h;
    let x = filled(&[n, ch, h, h], 0.5);
    let shape = "16x64x256x256";
    grp.throughput(Throughput::Bytes((8 * total) as u64));
    grp.bench_function(BenchmarkId::new("relu", shape), |b| {
        b.iter(|| {
            ops::relu(&x).unwrap();
            sync()
        })
    });
    grp.throughput(Throughput::Bytes((16 * total) as u64));
    grp.bench_function(BenchmarkId::new("batch_norm_fwd", shape), |b| {
        b.iter(|| {
            ops::batch_norm(&x, ops::Affine::NONE, ops::BnMode::train_stateless(), 1e-5).unwrap();
            sync()
        })
    });
    grp.throughput(Throughput::Bytes((40 * total) as u64));
    grp.bench_function(BenchmarkId::new("batch_norm_fwd_bwd", shape), |b| {
        b.iter(|| {
            let tape = Tape::new();
            let xt = tape.track(&x);
            let y = ops::batch_norm(&xt, ops::Affine::NONE, ops::BnMode::train_stateless(), 1e-5)
                .unwrap();
            tape.backward(&ops::sum_all(&y).unwrap(), &[&xt]).unwrap();
            sync()
        })
    });
    // One row of 40 M values (Adam's finiteness check sums the whole arena this way: a block
    // per 8,192-value chunk, then the partials in order).
    let row = filled(&[40_000_000], 0.01);
    grp.throughput(Throughput::Bytes(4 * 40_000_000));
    grp.bench_function(BenchmarkId::new("sum_row", "40M"), |b| {
        b.iter(|| {
            ops::sum_all(&row).unwrap();
            sync()
        })
    });
    // Evaluation mode normalises with stored statistics: batch_norm_fwd minus this is the cost
    // of the training statistics (grid-wide chunk sums at this size).
    let st = ops::BatchNormState {
        running_mean: filled(&[ch], 0.0),
        running_var: filled(&[ch], 1.0),
        num_batches_tracked: 0,
    };
    grp.throughput(Throughput::Bytes((8 * total) as u64));
    grp.bench_function(BenchmarkId::new("batch_norm_eval_fwd", shape), |b| {
        b.iter(|| {
            ops::batch_norm(
                &x,
                ops::Affine::NONE,
                ops::BnMode::Eval { state: &st },
                1e-5,
            )
            .unwrap();
            sync()
        })
    });
    let small = filled(&[n, ch, h / 2, h / 2], 0.5);
    grp.throughput(Throughput::Bytes((4 * (total / 4 + total)) as u64));
    grp.bench_function(
        BenchmarkId::new("upsample_nearest_x2", "16x64x128x128"),
        |b| {
            b.iter(|| {
                ops::upsample_nearest(&small, 2).unwrap();
                sync()
            })
        },
    );
    let params = 40_000_000usize;
    let mut group = ParamGroup::new("bench", DEV);
    let w = group.add("w", [params], vec![0.1; params]).unwrap();
    let tape = Tape::new();
    let wt = tape.track(&w.value());
    let loss = ops::sum_all(&ops::mul_scalar(&wt, 0.01).unwrap()).unwrap();
    group
        .accumulate(&tape.backward(&loss, &[&wt]).unwrap())
        .unwrap();
    let cfg = AdamConfig {
        lr: 1e-4,
        beta1: 0.0,
        beta2: 0.9,
        ..AdamConfig::default()
    };
    let mut opt = Adam::new(&group, cfg).unwrap();
    grp.throughput(Throughput::Bytes((28 * params) as u64));
    grp.bench_function(BenchmarkId::new("adam", "40M"), |b| {
        b.iter(|| {
            opt.step(&mut group).unwrap();
            sync()
        })
    });
    let m = 4096usize;
    let (a, bm) = (filled(&[m, m], 0.01), filled(&[m, m], 0.01));
    grp.throughput(Throughput::Elements((2 * m * m * m) as u64));
    grp.bench_function(BenchmarkId::new("gemm", "4096^3"), |b| {
        b.iter(|| {
            ops::matmul(&a, &bm).unwrap();
            sync()
        })
    });
    grp.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
