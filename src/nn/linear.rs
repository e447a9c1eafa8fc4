//! `Linear` (`{name}.weight` [Out, In], `{name}.bias` [Out]) and `Embedding`
//! (`{name}.weight` [V, D], default init N(0, 1)).

use super::init::{default_bias, normal, Init};
use super::{Ctx, Param, ParamGroup};
use crate::ops;
use crate::rng::Rng;
use crate::{Result, Tensor};

pub struct Linear {
    pub weight: Param,
    pub bias: Option<Param>,
}

impl Linear {
    pub fn new(
        group: &mut ParamGroup,
        name: &str,
        fin: usize,
        fout: usize,
        bias: bool,
        init: Init,
        rng: &mut Rng,
    ) -> Result<Linear> {
        let weight = group.add(
            &format!("{name}.weight"),
            [fout, fin],
            init.sample(rng, fin * fout, fin, fout),
        )?;
        let bias = if bias {
            Some(group.add(
                &format!("{name}.bias"),
                [fout],
                default_bias(rng, fout, fin),
            )?)
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

pub struct Embedding {
    pub weight: Param,
}

impl Embedding {
    /// `init` of `None` is PyTorch's default N(0, 1).
    pub fn new(
        group: &mut ParamGroup,
        name: &str,
        num: usize,
        dim: usize,
        init: Option<Init>,
        rng: &mut Rng,
    ) -> Result<Embedding> {
        let values = match init {
            None => normal(rng, num * dim, 0.0, 1.0),
            Some(i) => i.sample(rng, num * dim, dim, num),
        };
        Ok(Embedding {
            weight: group.add(&format!("{name}.weight"), [num, dim], values)?,
        })
    }
    /// Rows for `ids` (i64, any shape).
    pub fn forward(&self, ids: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        ops::embedding(ids, &self.weight.get(ctx))
    }
}
