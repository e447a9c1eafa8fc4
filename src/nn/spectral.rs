//! Spectral normalisation as the paper's code does it (a port of the SN-GAN layers): every
//! forward, train or eval, runs one power iteration on `W = weight.view(Cout, −1)` without
//! gradients — `v = l2n(u·W)`, `u = l2n(v·Wᵀ)`, `σ = u·W·vᵀ` — stores `u` (buffer `{scope}.u`,
//! f32 [1, Cout], initialised N(0, 1)), and uses `W/σ` with σ a constant (no gradient through
//! σ, unlike `torch.nn.utils.spectral_norm`): `dW = dW_eff / σ`. On the host devices the
//! iteration accumulates in f64 and stores `u` as f32, as PyTorch keeps it; on a GPU device it
//! runs through the ops in f32 (matmul, sums, a square root), so `W`, `u`, `v` and σ never leave
//! device memory — σ is read back only when [`SNConv2d::sigma`] asks for it.

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

/// ‖a‖₂-normalised `a`, as `l2n` (eps 1e-12), through the ops.
fn l2n_op(a: &Tensor) -> Result<Tensor> {
    let norm = ops::sqrt(&ops::sum_all(&ops::square(a)?)?)?;
    ops::div(a, &ops::add_scalar(&norm, 1e-12)?)
}

/// One power iteration on a GPU device through the ops (untracked): updates `u` and returns σ
/// as a scalar device tensor.
pub(crate) fn power_iteration_on_device(w: &Param, u: &BufferHandle) -> Result<Tensor> {
    crate::no_grad(|| {
        let (wt, ut) = (w.value(), u.get());
        let rows = ut.numel();
        let w2 = ops::reshape(&wt, &[rows, wt.numel() / rows])?;
        let v = l2n_op(&ops::matmul(&ut, &w2)?)?;
        let wv = ops::linear(&v, &w2, None)?;
        let un = l2n_op(&wv)?;
        let sigma = ops::sum_all(&ops::mul(&un, &wv)?)?;
        u.set(un)?;
        Ok(sigma)
    })
}

/// σ of the latest forward: a host value, or a device scalar read only when asked.
enum Sigma {
    Host(f64),
    Device(Tensor),
}

impl Sigma {
    fn value(&self) -> f64 {
        match self {
            Sigma::Host(s) => *s,
            Sigma::Device(t) => t.to_scalar().unwrap_or(f64::NAN),
        }
    }
}

/// `weight / σ` after one power iteration, σ a constant (no gradient through it): on the device
/// for GPU weights, in f64 on the host otherwise.
fn normalised(weight: &Param, u: &BufferHandle, ctx: &Ctx, sigma: &Mutex<Sigma>) -> Result<Tensor> {
    let w = weight.get(ctx);
    if w.device().is_gpu() && w.dtype() == DType::F32 {
        let s = power_iteration_on_device(weight, u)?;
        let out = ops::div(&w, &s)?;
        *sigma.lock().expect("sigma lock") = Sigma::Device(s);
        return Ok(out);
    }
    let s = power_iteration(weight, u)?;
    *sigma.lock().expect("sigma lock") = Sigma::Host(s);
    ops::mul_scalar(&w, 1.0 / s)
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
    sigma: Mutex<Sigma>,
}

impl SNConv2d {
    pub fn new(s: &mut Scope, cfg: Conv2dCfg, rng: &mut Rng) -> Result<SNConv2d> {
        let conv = Conv2d::new(s, cfg, rng)?;
        let u = u_buffer(s, cfg.cout, rng)?;
        Ok(SNConv2d {
            conv,
            u,
            sigma: Mutex::new(Sigma::Host(1.0)),
        })
    }
    /// σ of the latest forward (1 before the first).
    pub fn sigma(&self) -> f64 {
        self.sigma.lock().expect("sigma lock").value()
    }
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let w = normalised(&self.conv.weight, &self.u, ctx, &self.sigma)?;
        let b = self.conv.bias.as_ref().map(|b| b.get(ctx));
        ops::conv2d(x, &w, b.as_ref(), self.conv.params)
    }
}

/// A spectrally normalised `Linear`.
pub struct SNLinear {
    pub linear: Linear,
    pub u: BufferHandle,
    sigma: Mutex<Sigma>,
}

impl SNLinear {
    pub fn new(s: &mut Scope, cfg: LinearCfg, rng: &mut Rng) -> Result<SNLinear> {
        let linear = Linear::new(s, cfg, rng)?;
        let u = u_buffer(s, cfg.fout, rng)?;
        Ok(SNLinear {
            linear,
            u,
            sigma: Mutex::new(Sigma::Host(1.0)),
        })
    }
    /// σ of the latest forward (1 before the first).
    pub fn sigma(&self) -> f64 {
        self.sigma.lock().expect("sigma lock").value()
    }
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let w = normalised(&self.linear.weight, &self.u, ctx, &self.sigma)?;
        let b = self.linear.bias.as_ref().map(|b| b.get(ctx));
        ops::linear(x, &w, b.as_ref())
    }
}
