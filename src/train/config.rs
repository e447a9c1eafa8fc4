//! The step's configuration: loss weights, adversarial loss, schedule and optimizer.

use crate::optim::AdamConfig;
use serde::{Deserialize, Serialize};

/// The adversarial loss. The authors' configs say `mse`, but their code runs BCE-with-logits
/// (a truthiness bug; docs/method.md): `Bce` is what the paper's numbers come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdvLoss {
    Bce,
    Mse,
    Hinge,
}

/// The reconstruction distance `R` of the rec term.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rec {
    /// Mean absolute error over every pixel (COIN; the paper's Singla et al. row).
    #[default]
    L1,
    /// Singla et al.'s CARL: masked mean |x − x′| over the background and the kidney, summed
    /// (the authors' class default); needs the slices' organ masks.
    Carl,
}

/// The generator loss weights `L_G = λ_adv·L_adv + λ_kl·L_kl + λ_rec·L_rec + λ_minc·L_minc +
/// λ_tv·L_tv`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossWeights {
    pub adv: f64,
    pub kl: f64,
    pub rec: f64,
    pub minc: f64,
    pub tv: f64,
}

impl LossWeights {
    /// The synthetic-data COIN: λ_kl 5, λ_tv 0.05 and the implicit λ_minc = 1 of the authors'
    /// code.
    pub fn synthetic() -> LossWeights {
        LossWeights {
            adv: 1.0,
            kl: 5.0,
            rec: 1.0,
            minc: 1.0,
            tv: 0.05,
        }
    }
    /// The TUH COIN: λ_minc 0, λ_tv 5e-5.
    pub fn tuh() -> LossWeights {
        LossWeights {
            adv: 1.0,
            kl: 1.0,
            rec: 1.0,
            minc: 0.0,
            tv: 5e-5,
        }
    }
}

/// Everything a training step needs besides the networks (whose configuration says the
/// method: COIN or Singla et al.).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepCfg {
    pub weights: LossWeights,
    pub adv_loss: AdvLoss,
    /// COIN: `L_rec = R(x, x_cf) + R(x, G(E(x_cf), 0, x_cf))` when true, `R(x, x_cf)` alone
    /// when false; Singla et al.: `R(x, G(E(x), bin p)) + R(x, G(E(x_cf), bin p))`, or the
    /// first term alone.
    pub cyclic_rec: bool,
    /// The distance of the rec terms: L1, or CARL over the organ masks.
    #[serde(default)]
    pub rec: Rec,
    /// The generator updates on steps where `step % gen_update_freq == 0` (D:G = 5:1).
    pub gen_update_freq: u64,
    /// Adam for E+G and for D: lr 2e-4, β (0, 0.999), eps 1e-8.
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for StepCfg {
    fn default() -> Self {
        StepCfg {
            weights: LossWeights::synthetic(),
            adv_loss: AdvLoss::Bce,
            cyclic_rec: true,
            rec: Rec::L1,
            gen_update_freq: 5,
            lr: 2e-4,
            beta1: 0.0,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl StepCfg {
    pub fn adam(&self) -> AdamConfig {
        AdamConfig {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            ..Default::default()
        }
    }
}
