//! Batch normalisation on the CUDA kernels (kernels/norm.cu). In training the per-channel
//! statistics stay on the device (running statistics are updated there too, when they live on
//! the device); evaluation-mode backward runs on the reference loops.

use super::{BatchNormState, Stats};
use crate::gpu::{kernels as k, DevBuf, Gpu};
use crate::ops::Unary;
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

/// Training statistics kept on the device: (mean, 1/√(var + eps), biased var).
pub(super) fn moments_on_device(
    x: &Tensor,
    c: usize,
    eps: f64,
) -> Result<(DevBuf, DevBuf, DevBuf)> {
    let xb = x.dev()?;
    let g = xb.gpu();
    let (mean, invstd, var) = (g.alloc_f32(c)?, g.alloc_f32(c)?, g.alloc_f32(c)?);
    k::bn_stats(g, &xb, [&mean, &invstd, &var], dims(x), eps as f32)?;
    Ok((mean, invstd, var))
}

/// r ← (1 − m)·r + m·batch on the device, with the unbiased variance for the running variance.
pub(super) fn update_running(
    s: &mut BatchNormState,
    mean: &DevBuf,
    var: &DevBuf,
    m: f64,
    count: usize,
) -> Result<()> {
    let c = mean.len();
    super::check_running(s, c)?;
    let g = mean.gpu();
    let blend = |r: &Tensor, b: &DevBuf, scale: f64| -> Result<Tensor> {
        let (rb, kept, new) = (r.dev()?, g.alloc_f32(c)?, g.alloc_f32(c)?);
        let out = g.alloc_f32(c)?;
        k::unary_fwd(g, Unary::MulScalar(1.0 - m), &rb, &kept, c)?;
        k::unary_fwd(g, Unary::MulScalar(m * scale), b, &new, c)?;
        k::binary(g, k::BinaryOp::Add, (&kept, &[c]), (&new, &[c]), &out)?;
        Tensor::from_dev(out, vec![c], r.device())
    };
    let unbias = count as f64 / (count as f64 - 1.0);
    s.running_mean = blend(&s.running_mean, mean, 1.0)?;
    s.running_var = blend(&s.running_var, var, unbias)?;
    s.num_batches_tracked += 1;
    Ok(())
}

/// The statistics' device buffers (uploading host ones).
fn stats_on(g: &Gpu, s: &Stats) -> Result<(DevBuf, DevBuf)> {
    match &s.dev {
        Some((m, i)) => Ok((m.clone(), i.clone())),
        None => Ok((upload(g, &s.mean)?, upload(g, &s.invstd)?)),
    }
}

pub(super) fn normalize(
    x: &Tensor,
    s: &Stats,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
) -> Result<Tensor> {
    let xb = x.dev()?;
    let g = xb.gpu();
    let (mean, invstd) = stats_on(g, s)?;
    let gm = gamma.map(|t| t.dev()).transpose()?;
    let bt = beta.map(|t| t.dev()).transpose()?;
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

/// Backward: (dx, dγ, dβ). The sums Σgy·x̂ (dγ) and Σgy (dβ) come from one reduction launch;
/// dx in training mode goes through the batch statistics, in evaluation mode (statistics are
/// constants) it is gy·γ·invstd — the normalising kernel applied to gy with a zero mean.
pub(super) fn backward(
    x: &Tensor,
    gy: &Tensor,
    s: &Stats,
    gamma: Option<&Tensor>,
    training: bool,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (xb, gb) = (x.dev()?, gy.dev()?);
    let g = xb.gpu();
    let c = x.dims()[1];
    let (mean, invstd) = stats_on(g, s)?;
    let gm = gamma.map(|t| t.dev()).transpose()?;
    let (sum_gy, sum_gyx) = (g.alloc_f32(c)?, g.alloc_f32(c)?);
    let dx = g.alloc_f32(x.numel())?;
    if training {
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
    } else {
        k::bn_bwd_sums(g, &xb, &gb, &mean, &invstd, [&sum_gy, &sum_gyx], dims(x))?;
        let zero = g.alloc_f32(c)?;
        k::fill(g, &zero, c, 0.0)?;
        k::bn_apply(g, &gb, &zero, &invstd, gm.as_ref(), None, &dx, dims(x))?;
    }
    let dev = x.device();
    Ok((
        Tensor::from_dev(dx, x.shape().clone(), dev)?,
        Tensor::from_dev(sum_gyx, vec![c], dev)?,
        Tensor::from_dev(sum_gy, vec![c], dev)?,
    ))
}
