//! Batch normalisation on the CUDA kernels (kernels/norm.cu). The per-channel statistics come
//! back to the host (C values) because the op keeps them there for the running statistics and
//! for backward; evaluation-mode backward runs on the reference loops.

use super::Stats;
use crate::gpu::{kernels as k, DevBuf, Gpu};
use crate::{Result, Tensor};

fn dims(x: &Tensor) -> [usize; 4] {
    let d = x.dims();
    [d[0], d[1], d[2], d[3]]
}

fn upload(g: &Gpu, v: &[f64]) -> Result<DevBuf> {
    g.upload(&v.iter().map(|&x| x as f32).collect::<Vec<_>>())
}

pub(super) fn moments(x: &Tensor, c: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let xb = x.dev()?;
    let g = xb.gpu();
    let (mean, invstd, var) = (g.alloc_f32(c)?, g.alloc_f32(c)?, g.alloc_f32(c)?);
    // The op turns the variance into 1/√(var + eps) itself (with its own eps), so the kernel's
    // invstd output is not used here; any positive eps will do.
    k::bn_stats(g, &xb, [&mean, &invstd, &var], dims(x), 1.0)?;
    let f = |b: &DevBuf| -> Result<Vec<f64>> {
        Ok(g.download(b)?.into_iter().map(|v| v as f64).collect())
    };
    Ok((f(&mean)?, f(&var)?))
}

pub(super) fn normalize(
    x: &Tensor,
    s: &Stats,
    gamma: Option<&[f64]>,
    beta: Option<&[f64]>,
) -> Result<Tensor> {
    let xb = x.dev()?;
    let g = xb.gpu();
    let (mean, invstd) = (upload(g, &s.mean)?, upload(g, &s.invstd)?);
    let gm = gamma.map(|v| upload(g, v)).transpose()?;
    let bt = beta.map(|v| upload(g, v)).transpose()?;
    let y = g.alloc_f32(x.numel())?;
    k::bn_apply(
        g,
        &xb,
        &mean,
        &invstd,
        gm.as_ref(),
        bt.as_ref(),
        &y,
        dims(x),
    )?;
    Tensor::from_dev(y, x.shape().clone(), x.device())
}

/// Training-mode backward: (dx, dγ, dβ).
pub(super) fn backward(
    x: &Tensor,
    gy: &Tensor,
    s: &Stats,
    gamma: Option<&[f64]>,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (xb, gb) = (x.dev()?, gy.dev()?);
    let g = xb.gpu();
    let c = x.dims()[1];
    let (mean, invstd) = (upload(g, &s.mean)?, upload(g, &s.invstd)?);
    let gm = gamma.map(|v| upload(g, v)).transpose()?;
    let (sum_gy, sum_gyx) = (g.alloc_f32(c)?, g.alloc_f32(c)?);
    let dx = g.alloc_f32(x.numel())?;
    k::fill(g, &dx, x.numel(), 0.0)?;
    k::bn_backward(
        g,
        &xb,
        &gb,
        &mean,
        &invstd,
        gm.as_ref(),
        [&sum_gy, &sum_gyx],
        &dx,
        dims(x),
    )?;
    let dev = x.device();
    Ok((
        Tensor::from_dev(dx, x.shape().clone(), dev)?,
        Tensor::from_dev(sum_gyx, vec![c], dev)?,
        Tensor::from_dev(sum_gy, vec![c], dev)?,
    ))
}
