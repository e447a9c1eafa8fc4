//! Fast f32 batch norm: one task per channel (statistics in f64, a fixed order), then one
//! parallel pass over the planes.

use crate::ops::from_f32_like;
use crate::Tensor;
use rayon::prelude::*;

fn dims(x: &Tensor) -> (usize, usize, usize) {
    let d = x.dims();
    (d[0], d[1], d[2] * d[3])
}

pub(super) fn moments(x: &Tensor, c: usize) -> (Vec<f64>, Vec<f64>) {
    let (n, _, hw) = dims(x);
    let m = (n * hw) as f64;
    let r: Vec<(f64, f64)> = x.host_f32(|v| {
        (0..c)
            .into_par_iter()
            .map(|ch| {
                let mut s = 0f64;
                for b in 0..n {
                    s += v[(b * c + ch) * hw..][..hw]
                        .iter()
                        .map(|&a| a as f64)
                        .sum::<f64>();
                }
                let mean = s / m;
                let mut q = 0f64;
                for b in 0..n {
                    q += v[(b * c + ch) * hw..][..hw]
                        .iter()
                        .map(|&a| (a as f64 - mean).powi(2))
                        .sum::<f64>();
                }
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
                        for (&xe, &ge) in xv[o..o + hw].iter().zip(&gv[o..o + hw]) {
                            dg += ge as f64 * (xe as f64 - mean[ch]);
                            db += ge as f64;
                        }
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
