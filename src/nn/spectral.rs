//! Spectral normalisation as the paper's code does it (a port of the SN-GAN layers): every
//! forward, train or eval, runs one power iteration on `W = weight.view(Cout, −1)` without
//! gradients — `v = l2n(u·W)`, `u = l2n(v·Wᵀ)`, `σ = u·W·vᵀ` — stores `u` (buffer `{scope}.u`,
//! f32 [1, Cout], initialised N(0, 1)), and uses `W/σ` with σ a constant (no gradient through
//! σ, unlike `torch.nn.utils.spectral_norm`): `dW = dW_eff / σ`. The iteration accumulates in
//! f64 and stores `u` as f32, as PyTorch keeps it.

use super::{BufferHandle, Conv2d, Conv2dCfg, Ctx, Linear, LinearCfg, Param, Scope};
use crate::ops;
use crate::rng::Rng;
use crate::{DType, Result, Tensor};
use std::sync::Mutex;

fn l2n(a: &mut [f64]) {
    let n = a.iter().map(|v| v * v).sum::<f64>().sqrt();
    a.iter_mut().for_each(|v| *v /= n + 1e-12);
}

/// One power iteration on `w` (rows = output units); updates `u` and returns σ.
pub(crate) fn power_iteration(w: &Param, u: &BufferHandle) -> Result<f64> {
    let wv = w.value().try_to_vec_f32()?;
    let mut uv = u.get().try_to_vec_f64()?;
    let rows = uv.len();
    let cols = wv.len() / rows;
    let mut v = vec![0.0f64; cols];
    for (i, &ui) in uv.iter().enumerate() {
        for (vj, &wij) in v.iter_mut().zip(&wv[i * cols..(i + 1) * cols]) {
            *vj += ui * wij as f64;
        }
    }
    l2n(&mut v);
    let wv_dot = |i: usize| -> f64 {
        wv[i * cols..(i + 1) * cols]
            .iter()
            .zip(&v)
            .map(|(&w, &vj)| w as f64 * vj)
            .sum()
    };
    let wv_rows: Vec<f64> = (0..rows).map(wv_dot).collect();
    uv.copy_from_slice(&wv_rows);
    l2n(&mut uv);
    let sigma = uv.iter().zip(&wv_rows).map(|(a, b)| a * b).sum();
    let dev = u.get().device();
    u.set(Tensor::from_f64_as(&uv, [1, rows], DType::F32, dev)?)?;
    Ok(sigma)
}

fn u_buffer(s: &mut Scope, cout: usize, rng: &mut Rng) -> Result<BufferHandle> {
    let u: Vec<f64> = (0..cout).map(|_| rng.normal()).collect();
    s.buffer(
        "u",
        Tensor::from_f64_as(&u, [1, cout], DType::F32, s.device())?,
    )
}

/// A spectrally normalised `Conv2d`.
pub struct SNConv2d {
    pub conv: Conv2d,
    pub u: BufferHandle,
    /// σ of the latest forward.
    sigma: Mutex<f64>,
}

impl SNConv2d {
    pub fn new(s: &mut Scope, cfg: Conv2dCfg, rng: &mut Rng) -> Result<SNConv2d> {
        let conv = Conv2d::new(s, cfg, rng)?;
        let u = u_buffer(s, cfg.cout, rng)?;
        Ok(SNConv2d {
            conv,
            u,
            sigma: Mutex::new(1.0),
        })
    }
    /// σ of the latest forward (1 before the first).
    pub fn sigma(&self) -> f64 {
        *self.sigma.lock().expect("sigma lock")
    }
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let sigma = power_iteration(&self.conv.weight, &self.u)?;
        *self.sigma.lock().expect("sigma lock") = sigma;
        let w = ops::mul_scalar(&self.conv.weight.get(ctx), 1.0 / sigma)?;
        let b = self.conv.bias.as_ref().map(|b| b.get(ctx));
        ops::conv2d(x, &w, b.as_ref(), self.conv.params)
    }
}

/// A spectrally normalised `Linear`.
pub struct SNLinear {
    pub linear: Linear,
    pub u: BufferHandle,
    sigma: Mutex<f64>,
}

impl SNLinear {
    pub fn new(s: &mut Scope, cfg: LinearCfg, rng: &mut Rng) -> Result<SNLinear> {
        let linear = Linear::new(s, cfg, rng)?;
        let u = u_buffer(s, cfg.fout, rng)?;
        Ok(SNLinear {
            linear,
            u,
            sigma: Mutex::new(1.0),
        })
    }
    /// σ of the latest forward (1 before the first).
    pub fn sigma(&self) -> f64 {
        *self.sigma.lock().expect("sigma lock")
    }
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let sigma = power_iteration(&self.linear.weight, &self.u)?;
        *self.sigma.lock().expect("sigma lock") = sigma;
        let w = ops::mul_scalar(&self.linear.weight.get(ctx), 1.0 / sigma)?;
        let b = self.linear.bias.as_ref().map(|b| b.get(ctx));
        ops::linear(x, &w, b.as_ref())
    }
}
