//! Criterion benchmarks of the CUDA kernels at the paper's shapes (batch 16, 256² → 8², channels
//! 64 … 1536), reporting FLOP/s (convolutions, GEMM: elements/s × 1 FLOP) or bytes/s read +
//! written (memory-bound kernels). They need a real GPU: without one they print a skip line and
//! measure nothing (CI only builds them). `scripts/gpu-check.sh` runs them on a lent machine
//! beside the same shapes in PyTorch/cuDNN.

use coin::gpu::kernels::{self as k, Layout};
use coin::gpu::{DevBuf, Gpu};
use coin::ops::Unary;
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
];

fn filled(g: &Gpu, n: usize, v: f32) -> DevBuf {
    let b = g.alloc_f32(n).unwrap();
    k::fill(g, &b, n, v).unwrap();
    b
}

fn bench(c: &mut Criterion) {
    let g = match Gpu::cuda(0) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("SKIPPED GPU benchmarks: {e}");
            return;
        }
    };
    let mut grp = c.benchmark_group("gpu_conv2d");
    grp.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for &(name, n, cin, cout, h, kk, s, p) in CONVS {
        let geo = k::conv_geom([n, cin, h, h], [cout, cin, kk, kk], s, p).unwrap();
        let (ho, wo) = (geo.ho as usize, geo.wo as usize);
        let x = filled(&g, n * cin * h * h, 0.5);
        let w = filled(&g, cout * cin * kk * kk, 0.01);
        let y = filled(&g, n * cout * ho * wo, 0.0);
        let gx = filled(&g, n * cin * h * h, 0.0);
        let gw = filled(&g, cout * cin * kk * kk, 0.0);
        let ws = filled(&g, k::conv2d_bwd_weight_workspace(&geo), 0.0);
        let flops = 2 * n * cout * ho * wo * cin * kk * kk;
        grp.throughput(Throughput::Elements(flops as u64));
        grp.bench_function(BenchmarkId::new("fwd", name), |b| {
            b.iter(|| {
                k::conv2d_fwd(&g, &x, &w, None, &y, &geo).unwrap();
                g.synchronize().unwrap()
            })
        });
        grp.bench_function(BenchmarkId::new("bwd_data", name), |b| {
            b.iter(|| {
                k::conv2d_bwd_data(&g, &w, &y, &gx, &geo).unwrap();
                g.synchronize().unwrap()
            })
        });
        grp.bench_function(BenchmarkId::new("bwd_weight", name), |b| {
            b.iter(|| {
                k::conv2d_bwd_weight(&g, &x, &y, &gw, &ws, &geo).unwrap();
                g.synchronize().unwrap()
            })
        });
    }
    grp.finish();

    let mut grp = c.benchmark_group("gpu_memory");
    grp.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let (n, ch, h) = (16usize, 64usize, 256usize);
    let total = n * ch * h * h;
    let x = filled(&g, total, 0.5);
    let y = filled(&g, total, 0.0);
    let gy = filled(&g, total, 0.1);
    let st: Vec<DevBuf> = (0..5).map(|_| filled(&g, ch, 0.0)).collect();
    let shape = "16x64x256x256";
    grp.throughput(Throughput::Bytes((8 * total) as u64));
    grp.bench_function(BenchmarkId::new("relu", shape), |b| {
        b.iter(|| {
            k::unary_fwd(&g, Unary::Relu, &x, &y, total).unwrap();
            g.synchronize().unwrap()
        })
    });
    grp.throughput(Throughput::Bytes((16 * total) as u64));
    grp.bench_function(BenchmarkId::new("batch_norm_fwd", shape), |b| {
        b.iter(|| {
            k::bn_stats(&g, &x, [&st[0], &st[1], &st[2]], [n, ch, h, h], 1e-5).unwrap();
            k::bn_apply(&g, &x, &st[0], &st[1], None, None, &y, [n, ch, h, h]).unwrap();
            g.synchronize().unwrap()
        })
    });
    grp.throughput(Throughput::Bytes((24 * total) as u64));
    grp.bench_function(BenchmarkId::new("batch_norm_bwd", shape), |b| {
        b.iter(|| {
            k::bn_backward(
                &g,
                &x,
                &gy,
                &st[0],
                &st[1],
                None,
                [&st[3], &st[4]],
                &y,
                [n, ch, h, h],
            )
            .unwrap();
            g.synchronize().unwrap()
        })
    });
    let small = total / 4;
    let up = filled(&g, total, 0.0);
    grp.throughput(Throughput::Bytes((4 * (small + total)) as u64));
    grp.bench_function(
        BenchmarkId::new("upsample_nearest_x2", "16x64x128x128"),
        |b| {
            b.iter(|| {
                k::upsample_nearest_fwd(&g, &x, &up, n * ch, [h / 2, h / 2], 2).unwrap();
                g.synchronize().unwrap()
            })
        },
    );
    let params = 40_000_000usize;
    let (p, pg, m, v) = (
        filled(&g, params, 0.1),
        filled(&g, params, 0.01),
        filled(&g, params, 0.0),
        filled(&g, params, 0.0),
    );
    grp.throughput(Throughput::Bytes((28 * params) as u64));
    grp.bench_function(BenchmarkId::new("adam", "40M"), |b| {
        b.iter(|| {
            let s = k::AdamStep {
                lr: 1e-4,
                beta1: 0.0,
                beta2: 0.9,
                eps: 1e-8,
                weight_decay: 0.0,
                decoupled: false,
                t: 1,
            };
            k::adam(&g, [&p, &pg, &m, &v], params, s).unwrap();
            g.synchronize().unwrap()
        })
    });
    let (mm, nn, kk) = (4096usize, 4096usize, 4096usize);
    let (a, bm, cm) = (
        filled(&g, mm * kk, 0.01),
        filled(&g, kk * nn, 0.01),
        filled(&g, mm * nn, 0.0),
    );
    grp.throughput(Throughput::Elements((2 * mm * nn * kk) as u64));
    grp.bench_function(BenchmarkId::new("gemm", "4096^3"), |b| {
        b.iter(|| {
            k::gemm(
                &g,
                (&a, Layout::Plain),
                (&bm, Layout::Plain),
                None,
                &cm,
                [mm, nn, kk],
                false,
            )
            .unwrap();
            g.synchronize().unwrap()
        })
    });
    grp.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
