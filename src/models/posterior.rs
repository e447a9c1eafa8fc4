//! The class bins and the counterfactual: what the frozen classifier says about a batch and
//! what the generator is asked for (`posterior_prob` of the authors' two GANs):
//! `p = sigmoid(f(x))`, its bin (`p ≥ 0.5` → 1, abnormal), the KL target and the generator's
//! condition, which depend on the [`Method`]:
//!
//! | method | KL target | generator's condition |
//! |---|---|---|
//! | COIN (inpainting) | 1e-6 for abnormal rows, `p` for normal ones | 0 ("normal") for every row |
//! | Singla et al. (explanation) | `1 − p` | `bin(1 − p)`: the other class |
//!
//! All four are computed by ops where `x` is, and the bins are class indices held as floats (0
//! or 1, which the networks' embeddings look up directly), so on a GPU device nothing is read
//! back.

use super::{CoinNets, ResNet18};
use crate::nn::Ctx;
use crate::{no_grad, ops, Result, Tensor};

/// The KL target of an abnormal row under COIN (the authors' `1e-6`: "normal with certainty").
const ABNORMAL_TARGET: f64 = 1e-6;

/// How the generator is conditioned and what the classifier is asked to say of its output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Counterfactual inpainting: every slice is healed (condition 0, target "normal").
    #[default]
    Coin,
    /// The counterfactual explanation of Singla et al.: every slice is pushed to the other
    /// class (condition `bin(1 − p)`, target `1 − p`), normal slices towards abnormal.
    Singla,
}

impl Method {
    /// The method's name in tables and messages.
    pub fn label(self) -> &'static str {
        match self {
            Method::Coin => "COIN",
            Method::Singla => "Singla et al.",
        }
    }
}

pub struct Posterior {
    /// p(x), [N, 1].
    pub p: Tensor,
    /// The classifier's bin, f32 [N]: 1 (abnormal) or 0 (D's condition for real images).
    pub bin: Tensor,
    /// The KL target, [N, 1].
    pub desired: Tensor,
    /// The generator's condition (and D's for its fakes), f32 [N].
    pub condition: Tensor,
}

/// The "normal" class for each image of the batch `x`, as the networks take it: zeros [N] in
/// `x`'s dtype, on its device.
pub fn normal_classes(x: &Tensor) -> Tensor {
    Tensor::zeros([x.dims()[0]], x.dtype(), x.device())
}

/// The classifier's verdict on `x` and what `method` asks of the generator, without a tape
/// (eval-mode batch norm).
pub fn posterior(f: &ResNet18, x: &Tensor, method: Method) -> Result<Posterior> {
    no_grad(|| {
        let p = ops::sigmoid(&f.forward(x, &Ctx::eval())?)?;
        let n = p.dims()[0];
        let bin = ops::at_least(&p, 0.5)?;
        let (desired, condition) = match method {
            Method::Coin => {
                let not_bin = ops::add_scalar(&ops::neg(&bin)?, 1.0)?;
                let desired = ops::add(
                    &ops::mul(&not_bin, &p)?,
                    &ops::mul_scalar(&bin, ABNORMAL_TARGET)?,
                )?;
                (desired, normal_classes(x))
            }
            Method::Singla => {
                let flipped = ops::add_scalar(&ops::neg(&p)?, 1.0)?;
                let condition = ops::reshape(&ops::at_least(&flipped, 0.5)?, &[n])?;
                (flipped, condition)
            }
        };
        Ok(Posterior {
            bin: ops::reshape(&bin, &[n])?,
            desired,
            condition,
            p,
        })
    })
}

/// The counterfactual of `x` in evaluation mode (running statistics, no tape), conditioned on
/// "normal": `G(E(x), 0, x)`, the healed slice whose difference from `x` is the mask. This is
/// what `segment` and the evaluation's own protocol use for either method: a Singla et al.
/// generator conditioned on 0 is asked for the slice's normal version, as COIN's is.
pub fn counterfactual(nets: &CoinNets, x: &Tensor) -> Result<Tensor> {
    counterfactual_given(nets, x, &normal_classes(x))
}

/// The counterfactual of `x` under the condition the method trained with (COIN: 0; Singla et
/// al.: the other class, `bin(1 − p)`), as the authors evaluate each method, with the
/// classifier's verdict that chose the condition (so `p(x)` need not be computed again).
pub fn counterfactual_as_trained(
    nets: &CoinNets,
    f: &ResNet18,
    x: &Tensor,
) -> Result<(Tensor, Posterior)> {
    let post = posterior(f, x, nets.cfg.method)?;
    Ok((counterfactual_given(nets, x, &post.condition)?, post))
}

fn counterfactual_given(nets: &CoinNets, x: &Tensor, condition: &Tensor) -> Result<Tensor> {
    let ctx = Ctx::eval();
    nets.gen
        .forward(&nets.enc.forward(x, &ctx)?, condition, x, &ctx)
}
