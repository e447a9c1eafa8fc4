//! Batch normalisation on the CUDA kernels (kernels/norm.cu): the Tensor adapter and the
//! launchers. In training the per-channel statistics stay on the device (running statistics
//! are updated there too, when they live on the device); in evaluation running statistics in
//! device memory are read there.

use super::{BatchNormState, Stats};
use crate::gpu::grid::{blocks, i32_dim, need, BLOCK, MAX_GRID_YZ};
use crate::gpu::{kernel_params, Args, DevBuf, Gpu};
use crate::ops::elementwise::gpu::{binary, unary, zeros};
use crate::ops::elementwise::{Binary, Unary};
use crate::ops::reduce::gpu::sum_axis;
use crate::{Result, Tensor};

include!(concat!(env!("OUT_DIR"), "/kernel_enums/norm.rs"));

kernel_params! {
    /// `BnParams` of kernels/norm.cu.
    pub(crate) struct BnParams = "BnParams" {
        pub n: i64,
        pub c: i64,
        pub hw: i64,
        pub eps: f32,
        pub inv_m: f32,
    }
}

impl BnParams {
    fn of(x: &Tensor, eps: f32) -> BnParams {
        let d = x.dims();
        let (n, c, hw) = (d[0], d[1], d[2] * d[3]);
        BnParams {
            n: n as i64,
            c: c as i64,
            hw: hw as i64,
            eps,
            inv_m: 1.0 / (n * hw) as f32,
        }
    }
    fn len(&self) -> usize {
        (self.n * self.c * self.hw) as usize
    }
    /// The grid of the elementwise kernels (bn_apply, bn_bwd_data).
    fn grid(&self) -> [u32; 3] {
        blocks(self.len())
    }
}

/// Training statistics in device memory: mean and 1/√(var + eps), each [C].
pub(crate) struct DeviceStats {
    mean: DevBuf,
    invstd: DevBuf,
}

/// Values of a channel per block of the grid-wide sums (kernels/norm.cu's bn_partial).
const BN_CHUNK: usize = 16 * 1024;

/// Chunks of each channel's N·HW values in the grid-wide sums; 1: a block per channel.
fn chunks(p: &BnParams) -> usize {
    let m = (p.n * p.hw) as usize;
    if m <= 2 * BN_CHUNK {
        1
    } else {
        m.div_ceil(BN_CHUNK)
    }
}

/// What a bn_partial pass reads besides x: the mean (Σ(x − mean)²), and gy and 1/√(var + eps)
/// (the backward sums).
#[derive(Clone, Copy, Default)]
struct PassInputs<'a> {
    gy: Option<&'a DevBuf>,
    mean: Option<&'a DevBuf>,
    invstd: Option<&'a DevBuf>,
}

/// bn_partial's chunk sums of `mode` into `ws` (and Σgy·x̂ into `ws2`), [C, chunks].
fn launch_partial(
    g: &Gpu,
    x: &DevBuf,
    inp: PassInputs,
    p: &BnParams,
    mode: i32,
    (ws, ws2): (&DevBuf, Option<&DevBuf>),
) -> Result<()> {
    let c = p.c as usize;
    if c > MAX_GRID_YZ as usize {
        return Err(crate::Error::Shape(format!(
            "batch norm on the GPU: {c} channels exceed the grid's 65,535"
        )));
    }
    let mut a = Args::new();
    a.buf(x)
        .opt(inp.gy)
        .opt(inp.mean)
        .opt(inp.invstd)
        .buf(ws)
        .opt(ws2)
        .params(p)
        .i32(mode)
        .i64(BN_CHUNK as i64);
    let grid = [i32_dim(chunks(p))? as u32, c as u32, 1];
    g.launch("bn_partial_f32", grid, BLOCK, 0, &mut a)
}

/// `scale`·Σ of each channel's chunk partials, in chunk order: a [C] buffer.
fn chunk_total(g: &Gpu, ws: &DevBuf, p: &BnParams, scale: f32) -> Result<DevBuf> {
    let c = p.c as usize;
    let out = g.alloc_f32(c)?;
    sum_axis(g, ws, &out, [c, chunks(p), 1], scale)?;
    Ok(out)
}

/// `scale`·Σ per channel of x (BN_SUM_X) or of (x − mean)² (BN_SUM_SQUARED_DEVIATION), over the
/// whole grid.
fn channel_sum(
    g: &Gpu,
    x: &DevBuf,
    mean: Option<&DevBuf>,
    p: &BnParams,
    mode: i32,
    scale: f32,
) -> Result<DevBuf> {
    let ws = g.alloc_f32(p.c as usize * chunks(p))?;
    let inp = PassInputs {
        mean,
        ..Default::default()
    };
    launch_partial(g, x, inp, p, mode, (&ws, None))?;
    chunk_total(g, &ws, p, scale)
}

/// Σgy and Σgy·x̂ per channel over the whole grid.
fn grad_sums(g: &Gpu, x: &DevBuf, inp: PassInputs, p: &BnParams) -> Result<(DevBuf, DevBuf)> {
    let len = p.c as usize * chunks(p);
    let (ws, ws2) = (g.alloc_f32(len)?, g.alloc_f32(len)?);
    launch_partial(g, x, inp, p, BN_SUM_GRAD, (&ws, Some(&ws2)))?;
    Ok((chunk_total(g, &ws, p, 1.0)?, chunk_total(g, &ws2, p, 1.0)?))
}

/// Per-channel mean, 1/√(var + eps) and biased variance of `x` (three [C] buffers).
fn launch_stats(g: &Gpu, xb: &DevBuf, p: &BnParams) -> Result<[DevBuf; 3]> {
    let c = p.c as usize;
    need("bn x", xb, p.len())?;
    if chunks(p) > 1 {
        let inv_m = 1.0 / (p.n * p.hw) as f32;
        let mean = channel_sum(g, xb, None, p, BN_SUM_X, inv_m)?;
        let sq = BN_SUM_SQUARED_DEVIATION;
        let var = channel_sum(g, xb, Some(&mean), p, sq, inv_m)?;
        let invstd = g.alloc_f32(c)?;
        let mut a = Args::new();
        a.buf(&var).buf(&invstd).params(p);
        g.launch("bn_invstd_f32", blocks(c), BLOCK, 0, &mut a)?;
        return Ok([mean, invstd, var]);
    }
    let (mean, invstd, var) = (g.alloc_f32(c)?, g.alloc_f32(c)?, g.alloc_f32(c)?);
    let mut a = Args::new();
    a.buf(xb).buf(&mean).buf(&invstd).buf(&var).params(p);
    g.launch("bn_stats_f32", [c as u32, 1, 1], BLOCK, 0, &mut a)?;
    Ok([mean, invstd, var])
}

/// Mean and biased variance, read back (for host running statistics).
pub(super) fn moments(x: &Tensor) -> Option<Result<(Vec<f64>, Vec<f64>)>> {
    Some((|| {
        let xb = x.dev()?;
        let g = xb.gpu();
        // The op turns the variance into 1/√(var + eps) itself (with its own eps), so the
        // kernel's invstd output is not used here; any positive eps will do.
        let [mean, _, var] = launch_stats(g, &xb, &BnParams::of(x, 1.0))?;
        let f = |b: &DevBuf| -> Result<Vec<f64>> {
            Ok(g.download(b)?.into_iter().map(|v| v as f64).collect())
        };
        Ok((f(&mean)?, f(&var)?))
    })())
}

/// Training statistics kept on the device, updating device running statistics in `state`.
pub(super) fn train_stats(
    x: &Tensor,
    c: usize,
    eps: f64,
    state: Option<&mut BatchNormState>,
    momentum: f64,
) -> Option<Result<DeviceStats>> {
    Some((|| {
        let xb = x.dev()?;
        let p = BnParams::of(x, eps as f32);
        let [mean, invstd, var] = launch_stats(xb.gpu(), &xb, &p)?;
        if let Some(s) = state {
            super::check_running(s, c)?;
            update_running(s, &mean, &var, momentum, (p.n * p.hw) as usize)?;
        }
        Ok(DeviceStats { mean, invstd })
    })())
}

/// Evaluation statistics from running statistics in device memory (f32): the mean as it is,
/// 1/√(var + eps) computed on the device. None when they live elsewhere.
pub(super) fn eval_stats(s: &BatchNormState, eps: f64) -> Option<Result<DeviceStats>> {
    let on_device = |t: &Tensor| t.device().is_gpu() && t.dtype() == crate::DType::F32;
    (on_device(&s.running_mean) && on_device(&s.running_var)).then(|| {
        let (mean, var) = (s.running_mean.dev()?, s.running_var.dev()?);
        let g = var.gpu();
        let c = var.len();
        let root = g.alloc_f32(c)?;
        unary(g, Unary::AddScalar(eps), &var, &root, c)?;
        unary(g, Unary::Sqrt, &root, &root, c)?;
        let ones = g.full_f32(c, 1.0)?;
        let invstd = g.alloc_f32(c)?;
        binary(g, Binary::Div, (&ones, &[c]), (&root, &[c]), &invstd)?;
        Ok(DeviceStats { mean, invstd })
    })
}

/// r ← (1 − m)·r + m·batch on the device, with the unbiased variance for the running variance.
fn update_running(
    s: &mut BatchNormState,
    mean: &DevBuf,
    var: &DevBuf,
    m: f64,
    count: usize,
) -> Result<()> {
    let c = mean.len();
    let g = mean.gpu();
    let blend = |r: &Tensor, b: &DevBuf, scale: f64| -> Result<Tensor> {
        let (rb, kept, new) = (r.dev()?, g.alloc_f32(c)?, g.alloc_f32(c)?);
        let out = g.alloc_f32(c)?;
        unary(g, Unary::MulScalar(1.0 - m), &rb, &kept, c)?;
        unary(g, Unary::MulScalar(m * scale), b, &new, c)?;
        binary(g, Binary::Add, (&kept, &[c]), (&new, &[c]), &out)?;
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
    let up = |v: &[f64]| g.upload(&v.iter().map(|&x| x as f32).collect::<Vec<_>>());
    match s {
        Stats::Device(d) => Ok((d.mean.clone(), d.invstd.clone())),
        Stats::Host { mean, invstd } => Ok((up(mean)?, up(invstd)?)),
    }
}

/// The per-channel buffers of one launch: statistics and optional affine parameters.
struct Channels<'a> {
    mean: &'a DevBuf,
    invstd: &'a DevBuf,
    gamma: Option<&'a DevBuf>,
    beta: Option<&'a DevBuf>,
}

/// y = (x − mean)·invstd·γ + β.
fn launch_apply(g: &Gpu, x: &DevBuf, ch: Channels, y: &DevBuf, p: &BnParams) -> Result<()> {
    need("bn x", x, p.len())?;
    need("bn y", y, p.len())?;
    let mut a = Args::new();
    a.buf(x)
        .buf(ch.mean)
        .buf(ch.invstd)
        .opt(ch.gamma)
        .opt(ch.beta)
        .buf(y)
        .params(p);
    g.launch("bn_apply_f32", p.grid(), BLOCK, 0, &mut a)
}

pub(super) fn normalize(
    x: &Tensor,
    s: &Stats,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
) -> Option<Result<Tensor>> {
    Some((|| {
        let xb = x.dev()?;
        let g = xb.gpu();
        let (mean, invstd) = stats_on(g, s)?;
        let gm = gamma.map(|t| t.dev()).transpose()?;
        let bt = beta.map(|t| t.dev()).transpose()?;
        let y = g.alloc_f32(x.numel())?;
        let ch = Channels {
            mean: &mean,
            invstd: &invstd,
            gamma: gm.as_ref(),
            beta: bt.as_ref(),
        };
        launch_apply(g, &xb, ch, &y, &BnParams::of(x, 0.0))?;
        Tensor::from_dev(y, x.shape().clone(), x.device())
    })())
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
) -> Option<Result<(Tensor, Tensor, Tensor)>> {
    Some((|| {
        let (xb, gb) = (x.dev()?, gy.dev()?);
        let g = xb.gpu();
        let p = BnParams::of(x, 0.0);
        let c = p.c as usize;
        need("bn gy", &gb, p.len())?;
        let (mean, invstd) = stats_on(g, s)?;
        let gm = gamma.map(|t| t.dev()).transpose()?;
        let (sum_gy, sum_gyx) = if chunks(&p) > 1 {
            let inp = PassInputs {
                gy: Some(&gb),
                mean: Some(&mean),
                invstd: Some(&invstd),
            };
            grad_sums(g, &xb, inp, &p)?
        } else {
            let (sum_gy, sum_gyx) = (g.alloc_f32(c)?, g.alloc_f32(c)?);
            let mut a = Args::new();
            a.buf(&xb)
                .buf(&gb)
                .buf(&mean)
                .buf(&invstd)
                .buf(&sum_gy)
                .buf(&sum_gyx)
                .params(&p);
            g.launch("bn_bwd_reduce_f32", [c as u32, 1, 1], BLOCK, 0, &mut a)?;
            (sum_gy, sum_gyx)
        };
        let dx;
        if training {
            dx = zeros(g, x.numel())?;
            let mut a = Args::new();
            a.buf(&xb)
                .buf(&gb)
                .buf(&mean)
                .buf(&invstd)
                .opt(gm.as_ref())
                .buf(&sum_gy)
                .buf(&sum_gyx)
                .buf(&dx)
                .params(&p);
            g.launch("bn_bwd_data_f32", p.grid(), BLOCK, 0, &mut a)?;
        } else {
            dx = g.alloc_f32(x.numel())?;
            let zero = zeros(g, c)?;
            let ch = Channels {
                mean: &zero,
                invstd: &invstd,
                gamma: gm.as_ref(),
                beta: None,
            };
            launch_apply(g, &gb, ch, &dx, &p)?;
        }
        let dev = x.device();
        Ok((
            Tensor::from_dev(dx, x.shape().clone(), dev)?,
            Tensor::from_dev(sum_gyx, vec![c], dev)?,
            Tensor::from_dev(sum_gy, vec![c], dev)?,
        ))
    })())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameter_struct_mirrors_norm_cu() {
        crate::gpu::check_mirror::<super::BnParams>().unwrap();
    }
}
