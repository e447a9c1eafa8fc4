//! Conditional BatchNorm (the generator's decoder): an affine-free BatchNorm (`{scope}.bn`),
//! then per-sample γ, β rows looked up by class id from `Embedding(num_classes, 2C)`
//! (`{scope}.embed.weight`; γ half N(1, 0.02), β half 0), `out = γ[y]·BN(x) + β[y]`, and, as
//! the authors' CBN does (`act=ReLU`), optionally a ReLU. Gradients scatter-add into the
//! embedding rows through the embedding op.

use super::{BatchNorm2d, BatchNormCfg, Ctx, Embedding, EmbeddingCfg, Scope};
use crate::ops;
use crate::rng::Rng;
use crate::{Error, Result, Tensor};

/// A conditional batch norm's configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CbnCfg {
    pub channels: usize,
    pub num_classes: usize,
    /// Apply a ReLU after the affine (the authors' CBN does).
    pub relu: bool,
    pub eps: f64,
    pub momentum: f64,
}

impl Default for CbnCfg {
    fn default() -> Self {
        CbnCfg {
            channels: 0,
            num_classes: 2,
            relu: false,
            eps: 1e-5,
            momentum: 0.1,
        }
    }
}

pub struct ConditionalBatchNorm2d {
    pub bn: BatchNorm2d,
    pub embed: Embedding,
    pub channels: usize,
    pub relu: bool,
}

impl ConditionalBatchNorm2d {
    pub fn new(s: &mut Scope, cfg: CbnCfg, rng: &mut Rng) -> Result<Self> {
        let c = cfg.channels;
        if cfg.num_classes == 0 {
            return Err(Error::Invalid(format!(
                "conditional batch norm {}: needs at least one class",
                s.prefix()
            )));
        }
        let bn = BatchNorm2d::new(
            &mut s.scope("bn"),
            BatchNormCfg {
                channels: c,
                affine: false,
                eps: cfg.eps,
                momentum: cfg.momentum,
            },
        )?;
        let mut init = Vec::with_capacity(cfg.num_classes * 2 * c);
        for _ in 0..cfg.num_classes {
            init.extend((0..c).map(|_| (1.0 + 0.02 * rng.normal()) as f32));
            init.extend(std::iter::repeat_n(0.0f32, c));
        }
        let embed = Embedding::new(
            &mut s.scope("embed"),
            EmbeddingCfg {
                num: cfg.num_classes,
                dim: 2 * c,
                init: None,
            },
            rng,
        )?;
        embed.weight.set(&init)?;
        Ok(ConditionalBatchNorm2d {
            bn,
            embed,
            channels: c,
            relu: cfg.relu,
        })
    }

    /// `x`: N×C×H×W; `y`: the classes, shape [N] — i64 ids, or for two classes f32 y ∈ {0, 1}
    /// (see [`Embedding::forward`]).
    pub fn forward(&self, x: &Tensor, y: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let (n, c, _, _) = x.shape().dims4("conditional_batch_norm")?;
        if y.dims() != [n] {
            return Err(crate::Error::Shape(format!(
                "conditional_batch_norm: the classes must have shape [{n}], got {}",
                y.shape()
            )));
        }
        let h = self.bn.forward(x, ctx)?;
        let gb = self.embed.forward(y, ctx)?;
        let gamma = ops::reshape(&ops::narrow(&gb, 1, 0, c)?, &[n, c, 1, 1])?;
        let beta = ops::reshape(&ops::narrow(&gb, 1, c, c)?, &[n, c, 1, 1])?;
        let out = ops::add(&ops::mul(&h, &gamma)?, &beta)?;
        if self.relu {
            ops::relu(&out)
        } else {
            Ok(out)
        }
    }
}
