//! Reference batch norm: per-channel loops in f64, the textbook formulas.

use crate::ops::from_f64_like;
use crate::Tensor;

fn dims(x: &Tensor) -> (usize, usize, usize) {
    let d = x.dims();
    (d[0], d[1], d[2] * d[3])
}

pub(super) fn moments(x: &Tensor, c: usize) -> (Vec<f64>, Vec<f64>) {
    let (n, _, hw) = dims(x);
    let v = x.to_vec_f64();
    let m = (n * hw) as f64;
    let mut mean = vec![0f64; c];
    let mut var = vec![0f64; c];
    for ch in 0..c {
        let vals = (0..n).flat_map(|b| v[(b * c + ch) * hw..(b * c + ch + 1) * hw].iter());
        mean[ch] = vals.clone().sum::<f64>() / m;
        var[ch] = vals.map(|&a| (a - mean[ch]).powi(2)).sum::<f64>() / m;
    }
    (mean, var)
}

pub(super) fn normalize(
    x: &Tensor,
    (mean, invstd): (&[f64], &[f64]),
    g: Option<&[f64]>,
    b: Option<&[f64]>,
) -> Tensor {
    let (_, c, hw) = dims(x);
    let v = x.to_vec_f64();
    let out: Vec<f64> = v
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let ch = (i / hw) % c;
            let xhat = (a - mean[ch]) * invstd[ch];
            xhat * g.map_or(1.0, |g| g[ch]) + b.map_or(0.0, |b| b[ch])
        })
        .collect();
    from_f64_like(&out, x.shape().clone(), x)
}

pub(super) fn backward(
    x: &Tensor,
    gy: &Tensor,
    (mean, invstd): (&[f64], &[f64]),
    g: Option<&[f64]>,
    training: bool,
) -> (Tensor, Tensor, Tensor) {
    let (n, c, hw) = dims(x);
    let (xv, gv) = (x.to_vec_f64(), gy.to_vec_f64());
    let m = (n * hw) as f64;
    let mut dgamma = vec![0f64; c];
    let mut dbeta = vec![0f64; c];
    for i in 0..xv.len() {
        let ch = (i / hw) % c;
        dgamma[ch] += gv[i] * (xv[i] - mean[ch]) * invstd[ch];
        dbeta[ch] += gv[i];
    }
    let dx: Vec<f64> = (0..xv.len())
        .map(|i| {
            let ch = (i / hw) % c;
            let gamma = g.map_or(1.0, |g| g[ch]);
            if training {
                let xhat = (xv[i] - mean[ch]) * invstd[ch];
                gamma * invstd[ch] / m * (m * gv[i] - dbeta[ch] - xhat * dgamma[ch])
            } else {
                gamma * invstd[ch] * gv[i]
            }
        })
        .collect();
    (
        from_f64_like(&dx, x.shape().clone(), x),
        from_f64_like(&dgamma, [c], x),
        from_f64_like(&dbeta, [c], x),
    )
}
