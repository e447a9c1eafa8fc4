//! Spectral normalisation as the paper's code does it (a port of the SN-GAN layers): every
//! forward, train or eval, runs one power iteration on `W = weight.view(Cout, −1)` without
//! gradients — `v = l2n(u·W)`, `u = l2n(v·Wᵀ)`, `σ = u·W·vᵀ` — stores `u` (buffer `{name}.u`,
//! initialised N(0, 1)), and uses `W/σ` with σ a constant (no gradient through σ, unlike
//! `torch.nn.utils.spectral_norm`): `dW = dW_eff / σ`.

use super::init::Init;
use super::{Conv2d, Ctx, Linear, NamedBuffer, Param, ParamGroup};
use crate::ops;
use crate::rng::Rng;
use crate::{Result, Tensor};

fn l2n(a: &mut [f64]) {
    let n = a.iter().map(|v| v * v).sum::<f64>().sqrt();
    a.iter_mut().for_each(|v| *v /= n + 1e-12);
}

/// One power iteration on `w` (rows = output units); updates `u` and returns σ.
pub(crate) fn power_iteration(w: &Param, u: &mut [f64]) -> f64 {
    let wv = w.value().to_vec_f64();
    let rows = u.len();
    let cols = wv.len() / rows;
    let mut v: Vec<f64> = (0..cols)
        .map(|j| (0..rows).map(|i| u[i] * wv[i * cols + j]).sum())
        .collect();
    l2n(&mut v);
    let mut nu: Vec<f64> = (0..rows)
        .map(|i| (0..cols).map(|j| v[j] * wv[i * cols + j]).sum())
        .collect();
    l2n(&mut nu);
    u.copy_from_slice(&nu);
    (0..rows)
        .map(|i| u[i] * (0..cols).map(|j| wv[i * cols + j] * v[j]).sum::<f64>())
        .sum()
}

fn u_buffer(name: &str, u: &[f64], dev: crate::Device) -> NamedBuffer {
    NamedBuffer {
        name: format!("{name}.u"),
        tensor: Tensor::from_f64_as(u, [1, u.len()], crate::DType::F32, dev).expect("sized"),
    }
}

/// A spectrally normalised `Conv2d`.
pub struct SNConv2d {
    pub name: String,
    pub conv: Conv2d,
    pub u: Vec<f64>,
    /// σ of the latest forward.
    pub sigma: f64,
}

impl SNConv2d {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        group: &mut ParamGroup,
        name: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        padding: usize,
        bias: bool,
        init: Init,
        rng: &mut Rng,
    ) -> Result<SNConv2d> {
        let conv = Conv2d::new(group, name, cin, cout, k, stride, padding, bias, init, rng)?;
        let u = (0..cout).map(|_| rng.normal()).collect();
        Ok(SNConv2d {
            name: name.to_string(),
            conv,
            u,
            sigma: 1.0,
        })
    }
    pub fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        self.sigma = power_iteration(&self.conv.weight, &mut self.u);
        let w = ops::mul_scalar(&self.conv.weight.get(ctx), 1.0 / self.sigma)?;
        let b = self.conv.bias.as_ref().map(|b| b.get(ctx));
        ops::conv2d(x, &w, b.as_ref(), self.conv.params)
    }
    pub fn buffers(&self) -> Vec<NamedBuffer> {
        vec![u_buffer(
            &self.name,
            &self.u,
            self.conv.weight.value().device(),
        )]
    }
}

/// A spectrally normalised `Linear`.
pub struct SNLinear {
    pub name: String,
    pub linear: Linear,
    pub u: Vec<f64>,
    pub sigma: f64,
}

impl SNLinear {
    pub fn new(
        group: &mut ParamGroup,
        name: &str,
        fin: usize,
        fout: usize,
        bias: bool,
        init: Init,
        rng: &mut Rng,
    ) -> Result<SNLinear> {
        let linear = Linear::new(group, name, fin, fout, bias, init, rng)?;
        let u = (0..fout).map(|_| rng.normal()).collect();
        Ok(SNLinear {
            name: name.to_string(),
            linear,
            u,
            sigma: 1.0,
        })
    }
    pub fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        self.sigma = power_iteration(&self.linear.weight, &mut self.u);
        let w = ops::mul_scalar(&self.linear.weight.get(ctx), 1.0 / self.sigma)?;
        let b = self.linear.bias.as_ref().map(|b| b.get(ctx));
        ops::linear(x, &w, b.as_ref())
    }
    pub fn buffers(&self) -> Vec<NamedBuffer> {
        vec![u_buffer(
            &self.name,
            &self.u,
            self.linear.weight.value().device(),
        )]
    }
}
