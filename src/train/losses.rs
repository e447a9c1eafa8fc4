//! COIN's loss terms. Each generator term is returned weighted, as the authors log them
//! (`g_adv`, `g_kl`, `g_rec_loss`, `g_minc_loss`, `g_tv`, `g_loss`), and the discriminator's as
//! `d_real_loss`, `d_fake_loss`, `d_loss = ½(real + fake)`.

use super::config::AdvLoss;
use crate::ops::loss::{bce_with_logits, mse};
use crate::{ops, Result, Tensor};

/// The generator's weighted terms and their sum (one-element tensors on the tape).
pub struct GLosses {
    pub adv: Tensor,
    pub kl: Tensor,
    pub rec: Tensor,
    pub minc: Tensor,
    pub tv: Tensor,
    pub total: Tensor,
}

impl GLosses {
    /// (name, tensor) in the authors' logging order.
    pub fn named(&self) -> [(&'static str, &Tensor); 6] {
        [
            ("g_adv", &self.adv),
            ("g_kl", &self.kl),
            ("g_rec_loss", &self.rec),
            ("g_minc_loss", &self.minc),
            ("g_tv", &self.tv),
            ("g_loss", &self.total),
        ]
    }
}

/// The discriminator's terms.
pub struct DLosses {
    pub real: Tensor,
    pub fake: Tensor,
    pub total: Tensor,
}

impl DLosses {
    pub fn named(&self) -> [(&'static str, &Tensor); 3] {
        [
            ("d_real_loss", &self.real),
            ("d_fake_loss", &self.fake),
            ("d_loss", &self.total),
        ]
    }
}

fn full_like(t: &Tensor, v: f64) -> Tensor {
    Tensor::full(v, t.shape().clone(), t.dtype(), t.device())
}

/// The generator's adversarial term for D's logits on fakes: BCE toward 1 (non-saturating),
/// MSE toward 1, or hinge `−mean(D(fake))`.
pub fn g_adv_loss(kind: AdvLoss, fake_logits: &Tensor) -> Result<Tensor> {
    match kind {
        AdvLoss::Bce => bce_with_logits(fake_logits, &full_like(fake_logits, 1.0)),
        AdvLoss::Mse => mse(fake_logits, &full_like(fake_logits, 1.0)),
        AdvLoss::Hinge => ops::neg(&ops::mean_all(fake_logits)?),
    }
}

/// The discriminator's terms for its logits on real and fake images: BCE (real → 1, fake → 0),
/// MSE likewise, or hinge (`mean(relu(1 − real))`, `mean(relu(1 + fake))`); total ½(real + fake).
pub fn d_loss(kind: AdvLoss, real: &Tensor, fake: &Tensor) -> Result<DLosses> {
    let (r, f) = match kind {
        AdvLoss::Bce => (
            bce_with_logits(real, &full_like(real, 1.0))?,
            bce_with_logits(fake, &full_like(fake, 0.0))?,
        ),
        AdvLoss::Mse => (
            mse(real, &full_like(real, 1.0))?,
            mse(fake, &full_like(fake, 0.0))?,
        ),
        AdvLoss::Hinge => (
            ops::mean_all(&ops::relu(&ops::add_scalar(&ops::neg(real)?, 1.0)?)?)?,
            ops::mean_all(&ops::relu(&ops::add_scalar(fake, 1.0)?)?)?,
        ),
    };
    let total = ops::mul_scalar(&ops::add(&r, &f)?, 0.5)?;
    Ok(DLosses {
        real: r,
        fake: f,
        total,
    })
}
