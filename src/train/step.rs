//! One training step of a counterfactual GAN, in the authors' order (docs/method.md, "The
//! losses"), for both methods the project trains — COIN and the counterfactual explanation of
//! Singla et al. — which differ only in what they ask of the generator ([`Posterior`]) and in
//! the reconstruction terms ([`CoinStep::g_losses`]):
//!
//! 1. the frozen classifier's verdict on `x` (no tape) and the method's condition `c`
//!    (COIN: 0; Singla: `bin(1 − p)`) and KL target;
//! 2. `z = E(x)`, `x_cf = G(z, c, x)` — E and G in training mode (batch statistics, running
//!    statistics updated) on every step, recorded on a tape only when the generator updates;
//! 3. on generator steps (`step % gen_update_freq == 0`): `D(x_cf, c)` → adversarial term, the
//!    classifier on `x_cf` in eval mode with gradients flowing through it → clamped KL toward
//!    the target, the reconstruction terms (COIN: `R(x, x_cf)` and the cyclic
//!    `R(x, G(E(x_cf), 0, x_cf))`; Singla: `R(x, G(z, bin p, x))` and `R(x, G(E(x_cf), bin p,
//!    x_cf))`, without detaching), minc and TV; backward into E+G only, Adam on E+G;
//! 4. every step: `D(x, bin p)` and `D(x_cf.detach(), c)` on the pre-update `x_cf`, backward
//!    into D only, Adam on D.
//!
//! The classifier and D never receive a gradient from the G step (they run in `Ctx::frozen`),
//! and E+G none from the D step.

use super::config::{Rec, StepCfg};
use super::losses::{d_loss, g_adv_loss, DLosses, GLosses};
use crate::models::{posterior, CoinNets, Method, Posterior, ResNet18};
use crate::nn::Ctx;
use crate::ops::loss::{carl, coin_tv, kl_bernoulli, l1};
use crate::optim::Adam;
use crate::{ops, Error, Result, Tape, Tensor};

/// The logged values of one step: the generator's terms on generator steps, the
/// discriminator's always.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepLosses {
    pub step: u64,
    pub generator: Option<Vec<(&'static str, f64)>>,
    pub discriminator: Vec<(&'static str, f64)>,
}

/// The optimizers and step counter of a run (either method: the networks' configuration says
/// which).
pub struct CoinStep {
    pub cfg: StepCfg,
    pub opt_g: Adam,
    pub opt_d: Adam,
    /// The global step (`batches_done` of the authors' trainer).
    pub step: u64,
}

/// The generator's first pass on a batch: the input, its region masks (CARL), the encoder's
/// features and the counterfactual under the method's condition.
pub struct Pass<'a> {
    pub x: &'a Tensor,
    /// N×2×H×W background and kidney masks (0/1), needed by `rec = "carl"` only.
    pub masks: Option<&'a Tensor>,
    pub feats: &'a [Tensor],
    pub x_cf: &'a Tensor,
}

/// The logged values of one-element tensors, read back together (one device→host read on a GPU
/// device, which waits for the device once); a NaN or infinite term is an error naming it.
fn values<const K: usize>(named: [(&'static str, &Tensor); K]) -> Result<Vec<(&'static str, f64)>> {
    let flat = named
        .iter()
        .map(|(_, t)| ops::reshape(&t.detach(), &[1]))
        .collect::<Result<Vec<_>>>()?;
    let all = ops::cat(&flat.iter().collect::<Vec<_>>(), 0)?.try_to_vec_f64()?;
    named
        .iter()
        .zip(all)
        .map(|((n, _), v)| {
            if v.is_finite() {
                Ok((*n, v))
            } else {
                Err(Error::NonFinite(format!("{n} is {v}")))
            }
        })
        .collect()
}

impl CoinStep {
    pub fn new(nets: &CoinNets, cfg: StepCfg) -> Result<CoinStep> {
        Ok(CoinStep {
            opt_g: Adam::new(&nets.eg, cfg.adam())?,
            opt_d: Adam::new(&nets.d, cfg.adam())?,
            cfg,
            step: 0,
        })
    }

    /// Whether the current step updates the generator.
    pub fn updates_generator(&self) -> bool {
        self.step.is_multiple_of(self.cfg.gen_update_freq.max(1))
    }

    /// The reconstruction distance `R(x, other)` the configuration chose.
    fn distance(&self, x: &Tensor, other: &Tensor, masks: Option<&Tensor>) -> Result<Tensor> {
        match (self.cfg.rec, masks) {
            (Rec::L1, _) => l1(x, other),
            (Rec::Carl, Some(m)) => carl(x, other, m),
            (Rec::Carl, None) => Err(Error::Invalid(
                "[coin.step] rec = \"carl\" needs the slices' organ masks (background, kidney), and this batch has none; use rec = \"l1\"".into(),
            )),
        }
    }

    /// The generator's weighted terms for the first pass `g`, recorded on `tape` (E and G in
    /// training mode, D and the classifier frozen).
    pub fn g_losses(
        &self,
        nets: &CoinNets,
        f: &ResNet18,
        g: &Pass,
        post: &Posterior,
        tape: &Tape,
    ) -> Result<GLosses> {
        let (w, x, x_cf) = (self.cfg.weights, g.x, g.x_cf);
        let frozen = Ctx::frozen(tape);
        let train = Ctx::train(tape);
        let adv = g_adv_loss(
            self.cfg.adv_loss,
            &nets.disc.forward(x_cf, &post.condition, &frozen)?,
        )?;
        let q = ops::sigmoid(&f.forward(x_cf, &frozen)?)?;
        let kl = kl_bernoulli(&post.desired, &q)?;
        // COIN reconstructs through the counterfactual itself and its cyclic pass keeps the
        // "normal" condition; Singla et al. reconstruct `x` under its own class, from the same
        // features and from the counterfactual's.
        let (reconstruction, rec_condition) = match nets.cfg.method {
            Method::Coin => (x_cf.clone(), &post.condition),
            Method::Singla => (nets.gen.forward(g.feats, &post.bin, x, &train)?, &post.bin),
        };
        let forward_term = self.distance(x, &reconstruction, g.masks)?;
        let rec = if self.cfg.cyclic_rec {
            let feats_cf = nets.enc.forward(x_cf, &train)?;
            let cycled = nets.gen.forward(&feats_cf, rec_condition, x_cf, &train)?;
            ops::add(&forward_term, &self.distance(x, &cycled, g.masks)?)?
        } else {
            forward_term.clone()
        };
        // A term weighted 0 (Singla et al.'s minc and TV) is not computed: it is logged as 0
        // and adds no work to the forward or backward pass.
        let weighted = |weight: f64, term: &dyn Fn() -> Result<Tensor>| -> Result<Tensor> {
            if weight == 0.0 {
                return Ok(Tensor::scalar(0.0, x.dtype(), x.device()));
            }
            ops::mul_scalar(&term()?, weight)
        };
        let minc = || match (nets.cfg.method, self.cfg.rec) {
            (Method::Coin, Rec::L1) => Ok(forward_term.clone()),
            _ => l1(x, x_cf),
        };
        let terms = [
            ops::mul_scalar(&adv, w.adv)?,
            ops::mul_scalar(&kl, w.kl)?,
            ops::mul_scalar(&rec, w.rec)?,
            weighted(w.minc, &minc)?,
            weighted(w.tv, &|| coin_tv(x, x_cf))?,
        ];
        let mut total = terms[0].clone();
        for t in &terms[1..] {
            total = ops::add(&total, t)?;
        }
        let [adv, kl, rec, minc, tv] = terms;
        Ok(GLosses {
            adv,
            kl,
            rec,
            minc,
            tv,
            total,
        })
    }

    /// The discriminator's terms on real `x` (conditioned on the classifier's bin) and the
    /// detached `x_cf` (conditioned on the generator's condition), recorded on `tape`.
    pub fn d_losses(
        &self,
        nets: &CoinNets,
        x: &Tensor,
        x_cf: &Tensor,
        post: &Posterior,
        tape: &Tape,
    ) -> Result<DLosses> {
        let ctx = Ctx::train(tape);
        let real = nets.disc.forward(x, &post.bin, &ctx)?;
        let fake = nets.disc.forward(&x_cf.detach(), &post.condition, &ctx)?;
        d_loss(self.cfg.adv_loss, &real, &fake)
    }

    /// One training step on the batch `x` (N×1×H×W in [−1, 1]).
    pub fn train_step(
        &mut self,
        nets: &mut CoinNets,
        f: &ResNet18,
        x: &Tensor,
    ) -> Result<StepLosses> {
        self.train_step_with_masks(nets, f, x, None)
    }

    /// One training step on the batch `x` with its region masks (N×2×H×W background and
    /// kidney, for `rec = "carl"`).
    pub fn train_step_with_masks(
        &mut self,
        nets: &mut CoinNets,
        f: &ResNet18,
        x: &Tensor,
        masks: Option<&Tensor>,
    ) -> Result<StepLosses> {
        let post = posterior(f, x, nets.cfg.method)?;
        let mut out = StepLosses {
            step: self.step,
            ..Default::default()
        };
        let x_cf = if self.updates_generator() {
            let tape = Tape::new();
            let ctx = Ctx::train(&tape);
            let feats = nets.enc.forward(x, &ctx)?;
            let x_cf = nets.gen.forward(&feats, &post.condition, x, &ctx)?;
            let pass = Pass {
                x,
                masks,
                feats: &feats,
                x_cf: &x_cf,
            };
            let g = self.g_losses(nets, f, &pass, &post, &tape)?;
            out.generator = Some(values(g.named())?);
            self.opt_g.minimize(&mut nets.eg, &tape, &g.total)?;
            x_cf.detach()
        } else {
            let ctx = Ctx::train_no_tape();
            nets.gen
                .forward(&nets.enc.forward(x, &ctx)?, &post.condition, x, &ctx)?
        };
        let tape = Tape::new();
        let d = self.d_losses(nets, x, &x_cf, &post, &tape)?;
        out.discriminator = values(d.named())?;
        self.opt_d.minimize(&mut nets.d, &tape, &d.total)?;
        self.step += 1;
        Ok(out)
    }
}
