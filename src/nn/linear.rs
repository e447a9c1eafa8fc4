//! `Linear` (`{scope}.weight` [Out, In], `{scope}.bias` [Out]).

use super::init::{default_bias, Init};
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
