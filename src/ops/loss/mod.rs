//! Losses, each a mean over every element (PyTorch's `reduction='mean'`):
//! - [`bce_with_logits`]: fused, stable form `max(z,0) − z·y + log1p(e^{−|z|})`;
//! - [`kl_bernoulli`]: the paper's clamped Bernoulli KL (`src/losses.py::kl_divergence`);
//! - [`l1`], [`mse`];
//! - [`carl`]: the masked L1 of Singla et al.'s reconstruction (per-sample masked means, summed
//!   over the masks, averaged over the batch: `src/losses.py::CARL`);
//! - [`tv_squared`]: squared-difference total variation, and [`coin_tv`], the paper's TV of the
//!   255-scaled difference map.
//!
//! A loss is a tensor; read it with `Tensor::finite_scalar("name")`, which reports a NaN or
//! infinity by the loss's name (the only host read a step needs).

use super::elementwise::sigmoid_stable;
mod gpu;

use super::{
    any_tracked, from_f64_like, gpu_or_reference, gpu_or_try_reference, map_float, path_of,
    require_float, require_same, Path,
};
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
    let out = match path_of(logits) {
        Path::Gpu => gpu_or_reference(gpu::bce_forward(logits, targets), || {
            bce_forward_host(logits, targets)
        })?,
        Path::Cpu | Path::Reference => bce_forward_host(logits, targets),
    };
    if !any_tracked(&[logits, targets]) {
        return Ok(out);
    }
    let (zd, yd) = (logits.detach(), targets.detach());
    record(
        "bce_with_logits",
        &[logits, targets],
        out,
        Box::new(move |g, needs| match path_of(&zd) {
            Path::Gpu => gpu_or_try_reference(gpu::bce_backward(&zd, &yd, g, needs), || {
                bce_backward_host(&zd, &yd, g, needs)
            }),
            Path::Cpu | Path::Reference => bce_backward_host(&zd, &yd, g, needs),
        }),
    )
}

fn bce_forward_host(logits: &Tensor, targets: &Tensor) -> Tensor {
    let (z, y) = (logits.to_vec_f64(), targets.to_vec_f64());
    let n = z.len() as f64;
    let total: f64 = z
        .iter()
        .zip(&y)
        .map(|(&z, &y)| z.max(0.0) - z * y + (-z.abs()).exp().ln_1p())
        .sum();
    from_f64_like(&[total / n], Vec::<usize>::new(), logits)
}

/// dz = (σ(z) − y)·u/n, dy = −z·u/n for the upstream gradient u.
fn bce_backward_host(
    zd: &Tensor,
    yd: &Tensor,
    g: &Tensor,
    needs: &[bool],
) -> Result<Vec<Option<Tensor>>> {
    let s = g.to_scalar()? / zd.numel() as f64;
    let dz = needs[0].then(|| {
        let yv = yd.to_vec_f64();
        let zv = zd.to_vec_f64();
        let d: Vec<f64> = zv
            .iter()
            .zip(&yv)
            .map(|(&z, &y)| (sigmoid_stable(z) - y) * s)
            .collect();
        from_f64_like(&d, zd.shape().clone(), zd)
    });
    let dy = needs[1].then(|| map_float(zd, |z| -z * s as f32, |z| -z * s));
    Ok(vec![dz, dy])
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

/// Singla et al.'s CARL reconstruction term for images `a`, `b` (N×1×H×W) and region masks
/// `masks` (N×K×H×W of 0/1, the authors' background and kidney): for each region k,
/// `mean_n[ Σ_hw |a − b|·m_k / (Σ_hw m_k + 1e-8) ]`, summed over k. A region absent from a
/// sample contributes 0 for it. The masks carry no gradient.
pub fn carl(a: &Tensor, b: &Tensor, masks: &Tensor) -> Result<Tensor> {
    same_shape("carl", a, b)?;
    let (n, c, h, w) = a.shape().dims4("carl")?;
    let (mn, k, mh, mw) = masks.shape().dims4("carl masks")?;
    if c != 1 || (mn, mh, mw) != (n, h, w) || k == 0 {
        return Err(Error::Shape(format!(
            "carl: images {} need one channel and masks N×K×H×W on the same grid, got masks {}",
            a.shape(),
            masks.shape()
        )));
    }
    let masks = masks.detach();
    let diff = ops::abs(&ops::sub(a, b)?)?;
    let mut total: Option<Tensor> = None;
    for region in 0..k {
        let m = ops::narrow(&masks, 1, region, 1)?;
        let num = ops::sum(&ops::mul(&diff, &m)?, &[1, 2, 3], false)?;
        let den = ops::add_scalar(&ops::sum(&m, &[1, 2, 3], false)?, 1e-8)?;
        let term = ops::mean_all(&ops::div(&num, &den)?)?;
        total = Some(match total {
            None => term,
            Some(t) => ops::add(&t, &term)?,
        });
    }
    Ok(total.expect("k ≥ 1"))
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
