//! Losses, each a mean over every element (PyTorch's `reduction='mean'`):
//! - [`bce_with_logits`]: fused, stable form `max(z,0) − z·y + log1p(e^{−|z|})`;
//! - [`kl_bernoulli`]: the paper's clamped Bernoulli KL (`src/losses.py::kl_divergence`);
//! - [`l1`], [`mse`];
//! - [`tv_squared`]: squared-difference total variation, and [`coin_tv`], the paper's TV of the
//!   255-scaled difference map.
//!
//! A loss is a tensor; read it with `Tensor::finite_scalar("name")`, which reports a NaN or
//! infinity by the loss's name (the only host read a step needs).

use super::elementwise::sigmoid_stable;
use super::{any_tracked, from_f64_like, map_float, require_float, require_same};
use crate::autograd::record;
use crate::{ops, Error, Result, Tensor};

fn same_shape(op: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    require_float(op, a)?;
    require_same(op, a, b)?;
    if a.shape() != b.shape() {
        return Err(Error::Shape(format!(
            "{op}: input {} and target {} differ",
            a.shape(),
            b.shape()
        )));
    }
    Ok(())
}

/// Mean binary cross-entropy of `logits` against `targets` in [0, 1].
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    same_shape("bce_with_logits", logits, targets)?;
    if super::path_of(logits) == super::Path::Gpu {
        return gpu_bce_with_logits(logits, targets);
    }
    let (z, y) = (logits.to_vec_f64(), targets.to_vec_f64());
    let n = z.len() as f64;
    let total: f64 = z
        .iter()
        .zip(&y)
        .map(|(&z, &y)| z.max(0.0) - z * y + (-z.abs()).exp().ln_1p())
        .sum();
    let out = from_f64_like(&[total / n], Vec::<usize>::new(), logits);
    if !any_tracked(&[logits, targets]) {
        return Ok(out);
    }
    let (zd, yd) = (logits.detach(), targets.detach());
    record(
        "bce_with_logits",
        &[logits, targets],
        out,
        Box::new(move |g, needs| {
            let s = g.to_scalar()? / n;
            let dz = needs[0].then(|| {
                let yv = yd.to_vec_f64();
                let zv = zd.to_vec_f64();
                let d: Vec<f64> = zv
                    .iter()
                    .zip(&yv)
                    .map(|(&z, &y)| (sigmoid_stable(z) - y) * s)
                    .collect();
                from_f64_like(&d, zd.shape().clone(), &zd)
            });
            let dy = needs[1].then(|| map_float(&zd, |z| -z * s as f32, |z| -z * s));
            Ok(vec![dz, dy])
        }),
    )
}

/// The paper's KL(target ‖ q) for Bernoulli probabilities, both clamped to [1e-5, 1 − 1e-5]
/// (so no gradient reaches q where it is saturated), averaged over elements.
pub fn kl_bernoulli(target: &Tensor, q: &Tensor) -> Result<Tensor> {
    same_shape("kl_bernoulli", q, target)?;
    const E: f64 = 1e-5;
    let t = ops::clamp(target, E, 1.0 - E)?;
    let q = ops::clamp(q, E, 1.0 - E)?;
    let one_t = ops::add_scalar(&ops::neg(&t)?, 1.0)?;
    let one_q = ops::add_scalar(&ops::neg(&q)?, 1.0)?;
    let a = ops::mul(&t, &ops::log(&ops::div(&t, &q)?)?)?;
    let b = ops::mul(&one_t, &ops::log(&ops::div(&one_t, &one_q)?)?)?;
    ops::mean_all(&ops::add(&a, &b)?)
}

/// Mean absolute error.
pub fn l1(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    same_shape("l1", a, b)?;
    ops::mean_all(&ops::abs(&ops::sub(a, b)?)?)
}

/// Mean squared error.
pub fn mse(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    same_shape("mse", a, b)?;
    ops::mean_all(&ops::square(&ops::sub(a, b)?)?)
}

/// `mean((img[..., :, :-1] − img[..., :, 1:])²) + mean((img[..., :-1, :] − img[..., 1:, :])²)`
/// over an NCHW tensor (equal to the paper's per-sample means averaged over the batch).
pub fn tv_squared(img: &Tensor) -> Result<Tensor> {
    require_float("tv_squared", img)?;
    let (_, _, h, w) = img.shape().dims4("tv_squared")?;
    if h < 2 || w < 2 {
        return Err(Error::Shape(format!(
            "tv_squared: needs at least 2×2 planes, got {}",
            img.shape()
        )));
    }
    let dw = ops::sub(
        &ops::narrow(img, 3, 0, w - 1)?,
        &ops::narrow(img, 3, 1, w - 1)?,
    )?;
    let dh = ops::sub(
        &ops::narrow(img, 2, 0, h - 1)?,
        &ops::narrow(img, 2, 1, h - 1)?,
    )?;
    ops::add(
        &ops::mean_all(&ops::square(&dw)?)?,
        &ops::mean_all(&ops::square(&dh)?)?,
    )
}

/// The paper's TV term: `tv_squared(255·|(x+1)/2 − (x_cf+1)/2|)` for images in [−1, 1].
pub fn coin_tv(x: &Tensor, x_cf: &Tensor) -> Result<Tensor> {
    same_shape("coin_tv", x, x_cf)?;
    let diff = ops::mul_scalar(&ops::abs(&ops::sub(x, x_cf)?)?, 255.0 / 2.0)?;
    tv_squared(&diff)
}

/// BCE with logits on the CUDA kernels (kernels/loss.cu): per-element terms, a deterministic
/// mean, and a backward that reads the upstream gradient on the device.
fn gpu_bce_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    use crate::gpu::kernels as k;
    let (zb, yb) = (logits.dev()?, targets.dev()?);
    let gpu = zb.gpu().clone();
    let n = logits.numel();
    let (terms, out) = (gpu.alloc_f32(n)?, gpu.alloc_f32(1)?);
    k::bce_with_logits(&gpu, &zb, &yb, &terms, &out, n)?;
    let dev = logits.device();
    let out = Tensor::from_dev(out, Vec::<usize>::new(), dev)?;
    if !any_tracked(&[logits, targets]) {
        return Ok(out);
    }
    let shape = logits.shape().clone();
    record(
        "bce_with_logits",
        &[logits, targets],
        out,
        Box::new(move |g, needs| {
            // The upstream gradient stays on the device: the kernel reads it there.
            let up = g.dev()?;
            let zero = |b: bool| -> Result<Option<crate::gpu::DevBuf>> {
                b.then(|| {
                    let d = gpu.alloc_f32(n)?;
                    k::fill(&gpu, &d, n, 0.0)?;
                    Ok(d)
                })
                .transpose()
            };
            let (dz, dy) = (zero(needs[0])?, zero(needs[1])?);
            k::bce_with_logits_bwd(&gpu, &zb, &yb, dz.as_ref(), dy.as_ref(), Some(&up), n)?;
            let wrap = |d: Option<crate::gpu::DevBuf>| {
                d.map(|d| Tensor::from_dev(d, shape.clone(), dev))
                    .transpose()
            };
            Ok(vec![wrap(dz)?, wrap(dy)?])
        }),
    )
}
