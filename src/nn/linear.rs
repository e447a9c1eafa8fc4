//! `Linear` (`{scope}.weight` [Out, In], `{scope}.bias` [Out]) and `Embedding`
//! (`{scope}.weight` [V, D], default init N(0, 1)).

use super::init::{default_bias, normal, Init};
use super::{Ctx, Param, Scope};
use crate::ops;
use crate::rng::Rng;
use crate::{Error, Result, Tensor};

/// A fully connected layer's configuration; the defaults are PyTorch's (a bias,
/// kaiming-uniform weights).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearCfg {
    pub fin: usize,
    pub fout: usize,
    pub bias: bool,
    pub init: Init,
}

impl Default for LinearCfg {
    fn default() -> Self {
        LinearCfg {
            fin: 0,
            fout: 0,
            bias: true,
            init: Init::Default,
        }
    }
}

pub struct Linear {
    pub weight: Param,
    pub bias: Option<Param>,
}

impl Linear {
    pub fn new(s: &mut Scope, cfg: LinearCfg, rng: &mut Rng) -> Result<Linear> {
        let LinearCfg { fin, fout, .. } = cfg;
        if fin == 0 || fout == 0 {
            return Err(Error::Invalid(format!(
                "linear {}: sizes must be positive, got {cfg:?}",
                s.prefix()
            )));
        }
        let weight = s.param(
            "weight",
            [fout, fin],
            cfg.init.sample(rng, fin * fout, fin, fout),
        )?;
        let bias = if cfg.bias {
            Some(s.param("bias", [fout], default_bias(rng, fout, fin))?)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let b = self.bias.as_ref().map(|b| b.get(ctx));
        ops::linear(x, &self.weight.get(ctx), b.as_ref())
    }
}

/// An embedding table's configuration; `init` of `None` is PyTorch's default N(0, 1).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EmbeddingCfg {
    pub num: usize,
    pub dim: usize,
    pub init: Option<Init>,
}

pub struct Embedding {
    pub weight: Param,
}

impl Embedding {
    pub fn new(s: &mut Scope, cfg: EmbeddingCfg, rng: &mut Rng) -> Result<Embedding> {
        let EmbeddingCfg { num, dim, init } = cfg;
        if num == 0 || dim == 0 {
            return Err(Error::Invalid(format!(
                "embedding {}: sizes must be positive, got {cfg:?}",
                s.prefix()
            )));
        }
        let values = match init {
            None => normal(rng, num * dim, 0.0, 1.0),
            Some(i) => i.sample(rng, num * dim, dim, num),
        };
        Ok(Embedding {
            weight: s.param("weight", [num, dim], values)?,
        })
    }
    /// Rows for `ids` (i64, any shape).
    pub fn forward(&self, ids: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        ops::embedding(ids, &self.weight.get(ctx))
    }
}
