//! Fast f32 batch norm: one task per channel (statistics in f64, in eight lanes summed in a
//! fixed order), then one parallel pass over the planes.

use crate::ops::from_f32_like;
use crate::Tensor;
use rayon::prelude::*;

fn dims(x: &Tensor) -> (usize, usize, usize) {
    let d = x.dims();
    (d[0], d[1], d[2] * d[3])
}

/// Lanes of the f64 sums: that many independent accumulators, so a sum runs at the adder's
/// throughput instead of its latency (one dependent add per element was most of batch norm's
/// time); the lanes are added in a fixed order, so the result does not depend on the thread count.
const SUM_LANES: usize = 8;

/// `Σ f(a)` over `xs` in f64: element i goes to lane i mod 8, then lanes 0..8 and the tail.
#[inline]
fn lane_sum(xs: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut acc = [0f64; SUM_LANES];
    let chunks = xs.chunks_exact(SUM_LANES);
    let tail: f64 = chunks.remainder().iter().map(|&a| f(a)).sum();
    for ch in chunks {
        for (a, &e) in acc.iter_mut().zip(ch) {
            *a += f(e);
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// `Σ g·(x − mean)` in f64, in lanes as [`lane_sum`].
#[inline]
fn lane_dot(g: &[f32], x: &[f32], mean: f64) -> f64 {
    let mut acc = [0f64; SUM_LANES];
    let (gc, xc) = (g.chunks_exact(SUM_LANES), x.chunks_exact(SUM_LANES));
    let tail: f64 = gc
        .remainder()
        .iter()
        .zip(xc.remainder())
        .map(|(&ge, &xe)| ge as f64 * (xe as f64 - mean))
        .sum();
    for (gs, xs) in gc.zip(xc) {
        for ((a, &ge), &xe) in acc.iter_mut().zip(gs).zip(xs) {
            *a += ge as f64 * (xe as f64 - mean);
        }
    }
    acc.iter().sum::<f64>() + tail
}

pub(super) fn moments(x: &Tensor, c: usize) -> (Vec<f64>, Vec<f64>) {
    let (n, _, hw) = dims(x);
    let m = (n * hw) as f64;
    let r: Vec<(f64, f64)> = x.host_f32(|v| {
        (0..c)
            .into_par_iter()
            .map(|ch| {
                let plane = |b: usize| &v[(b * c + ch) * hw..][..hw];
                let s: f64 = (0..n).map(|b| lane_sum(plane(b), |a| a as f64)).sum();
                let mean = s / m;
                let q: f64 = (0..n)
                    .map(|b| lane_sum(plane(b), |a| (a as f64 - mean).powi(2)))
                    .sum();
                (mean, q / m)
            })
            .collect()
    });
    r.into_iter().unzip()
}

pub(super) fn normalize(
    x: &Tensor,
    (mean, invstd): (&[f64], &[f64]),
    g: Option<&[f64]>,
    b: Option<&[f64]>,
) -> Tensor {
    let (_, c, hw) = dims(x);
    let scale: Vec<f32> = (0..c)
        .map(|ch| (invstd[ch] * g.map_or(1.0, |g| g[ch])) as f32)
        .collect();
    let shift: Vec<f32> = (0..c)
        .map(|ch| {
            (b.map_or(0.0, |b| b[ch]) - mean[ch] * invstd[ch] * g.map_or(1.0, |g| g[ch])) as f32
        })
        .collect();
    let out = x.host_f32(|v| {
        let mut out = crate::tensor::recycler::overwritten(v.len());
        out.par_chunks_mut(hw)
            .zip(v.par_chunks(hw))
            .enumerate()
            .for_each(|(i, (o, src))| {
                let (a, sh) = (scale[i % c], shift[i % c]);
                for (d, &e) in o.iter_mut().zip(src) {
                    *d = e * a + sh;
                }
            });
        out
    });
    from_f32_like(out, x.shape().clone(), x)
}

pub(super) fn backward(
    x: &Tensor,
    gy: &Tensor,
    (mean, invstd): (&[f64], &[f64]),
    g: Option<&[f64]>,
    training: bool,
) -> (Tensor, Tensor, Tensor) {
    let (n, c, hw) = dims(x);
    let m = (n * hw) as f64;
    let sums: Vec<(f64, f64)> = x.host_f32(|xv| {
        gy.host_f32(|gv| {
            (0..c)
                .into_par_iter()
                .map(|ch| {
                    let (mut dg, mut db) = (0f64, 0f64);
                    for b in 0..n {
                        let o = (b * c + ch) * hw;
                        let (x, g) = (&xv[o..o + hw], &gv[o..o + hw]);
                        dg += lane_dot(g, x, mean[ch]);
                        db += lane_sum(g, |a| a as f64);
                    }
                    (dg * invstd[ch], db)
                })
                .collect()
        })
    });
    let (dgamma, dbeta): (Vec<f64>, Vec<f64>) = sums.into_iter().unzip();
    let dx = x.host_f32(|xv| {
        gy.host_f32(|gv| {
            let mut dx = crate::tensor::recycler::overwritten(xv.len());
            dx.par_chunks_mut(hw).enumerate().for_each(|(i, d)| {
                let ch = i % c;
                let gamma = g.map_or(1.0, |g| g[ch]);
                let k = gamma * invstd[ch];
                let o = i * hw;
                if training {
                    let (mean, is) = (mean[ch], invstd[ch]);
                    let (a, b) = (dbeta[ch] / m, dgamma[ch] / m);
                    for (j, e) in d.iter_mut().enumerate() {
                        let xhat = (xv[o + j] as f64 - mean) * is;
                        *e = (k * (gv[o + j] as f64 - a - xhat * b)) as f32;
                    }
                } else {
                    for (j, e) in d.iter_mut().enumerate() {
                        *e = (k * gv[o + j] as f64) as f32;
                    }
                }
            });
            dx
        })
    });
    (
        from_f32_like(dx, x.shape().clone(), x),
        from_f32_like(dgamma.iter().map(|&v| v as f32).collect(), [c], x),
        from_f32_like(dbeta.iter().map(|&v| v as f32).collect(), [c], x),
    )
}
