//! What the frozen classifier says about a batch (`posterior_prob` of the authors' inpainting
//! model): `p = sigmoid(f(x))`, its bin (`p ≥ 0.5` → 1, abnormal), the KL target (1e-6 for
//! abnormal rows, `p` itself for normal ones) and the generator's condition (always 0).

use crate::models::ResNet18;
use crate::nn::Ctx;
use crate::{no_grad, ops, Device, Result, Tensor};

pub struct Posterior {
    /// p(x), [N, 1].
    pub p: Tensor,
    /// The classifier's bin, i64 [N] (D's condition for real images).
    pub bin: Tensor,
    /// The KL target, [N, 1].
    pub desired: Tensor,
    /// The generator's condition: zeros, i64 [N].
    pub normal: Tensor,
}

/// The classifier's verdict on `x`, without a tape (eval-mode batch norm).
pub fn posterior(f: &ResNet18, x: &Tensor) -> Result<Posterior> {
    let p = no_grad(|| -> Result<Tensor> { ops::sigmoid(&f.forward(x, &Ctx::eval())?) })?;
    let pv = p.try_to_vec_f64()?;
    let n = pv.len();
    let bin: Vec<i64> = pv.iter().map(|&v| (v >= 0.5) as i64).collect();
    let desired: Vec<f64> = pv
        .iter()
        .map(|&v| if v >= 0.5 { 1e-6 } else { v })
        .collect();
    let dev: Device = x.device();
    Ok(Posterior {
        desired: Tensor::from_f64_as(&desired, [n, 1], p.dtype(), dev)?,
        bin: Tensor::from_i64(bin, [n], dev)?,
        normal: Tensor::from_i64(vec![0; n], [n], dev)?,
        p,
    })
}
