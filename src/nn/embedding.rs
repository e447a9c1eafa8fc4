//! `Embedding` (`{scope}.weight` [V, D], default init N(0, 1)), looked up by class ids: i64, or
//! class indices held in a float tensor (see [`ops::embedding`]).

use super::init::{normal, Init};
use super::{Ctx, Param, Scope};
use crate::ops;
use crate::rng::Rng;
use crate::{Error, Result, Tensor};

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
    /// Rows for class ids `y` (any shape → shape + [D]): i64, or a float tensor of class
    /// indices (a class computed on the device conditions the network without a read).
    pub fn forward(&self, y: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        ops::embedding(y, &self.weight.get(ctx))
    }
}
