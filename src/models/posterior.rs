//! The class bins and the counterfactual: what the frozen classifier says about a batch (`posterior_prob` of the authors' inpainting
//! model): `p = sigmoid(f(x))`, its bin (`p ≥ 0.5` → 1, abnormal), the KL target (1e-6 for
//! abnormal rows, `p` itself for normal ones) and the generator's condition (always 0).
//!
//! All four are computed by ops where `x` is, and the bins are class indices held as floats (0
//! or 1, which the networks' embeddings look up directly), so on a GPU device nothing is read
//! back.

use super::{CoinNets, ResNet18};
use crate::nn::Ctx;
use crate::{no_grad, ops, Result, Tensor};

/// The KL target of an abnormal row (the authors' `1e-6`: "normal with certainty").
const ABNORMAL_TARGET: f64 = 1e-6;

pub struct Posterior {
    /// p(x), [N, 1].
    pub p: Tensor,
    /// The classifier's bin, f32 [N]: 1 (abnormal) or 0 (D's condition for real images).
    pub bin: Tensor,
    /// The KL target, [N, 1]: `(1 − bin)·p + bin·1e-6`.
    pub desired: Tensor,
    /// The generator's condition: class 0 (normal), f32 [N].
    pub normal: Tensor,
}

/// The "normal" class for each image of the batch `x`, as the networks take it: zeros [N] in
/// `x`'s dtype, on its device.
pub fn normal_classes(x: &Tensor) -> Tensor {
    Tensor::zeros([x.dims()[0]], x.dtype(), x.device())
}

/// The classifier's verdict on `x`, without a tape (eval-mode batch norm).
pub fn posterior(f: &ResNet18, x: &Tensor) -> Result<Posterior> {
    no_grad(|| {
        let p = ops::sigmoid(&f.forward(x, &Ctx::eval())?)?;
        let n = p.dims()[0];
        let bin = ops::at_least(&p, 0.5)?;
        let not_bin = ops::add_scalar(&ops::neg(&bin)?, 1.0)?;
        let desired = ops::add(
            &ops::mul(&not_bin, &p)?,
            &ops::mul_scalar(&bin, ABNORMAL_TARGET)?,
        )?;
        Ok(Posterior {
            bin: ops::reshape(&bin, &[n])?,
            desired,
            normal: normal_classes(x),
            p,
        })
    })
}

/// The counterfactual of `x` in evaluation mode (running statistics, no tape), conditioned on
/// "normal": `G(E(x), 0, x)`, the healed slice whose difference from `x` is the mask.
pub fn counterfactual(nets: &CoinNets, x: &Tensor) -> Result<Tensor> {
    let normal = normal_classes(x);
    let ctx = Ctx::eval();
    nets.gen
        .forward(&nets.enc.forward(x, &ctx)?, &normal, x, &ctx)
}
