//! `Embedding` (`{scope}.weight` [V, D], default init N(0, 1)), looked up by class ids or, for
//! a two-row table, by the class as a number: `y ∈ {0, 1}` (f32) selects
//! `(1 − y)·E₀ + y·E₁ = E₀ + y·(E₁ − E₀)` — exactly E₀ or E₁ for y = 0 or 1 — so a class
//! computed on a GPU device (the classifier's bin) conditions a network without a read.

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
    /// Rows for `y`: class ids (i64, any shape → shape + [D]), or for a two-row table the
    /// class as a float `y` of shape [N] (→ [N, D]; values between 0 and 1 mix the rows).
    pub fn forward(&self, y: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let w = self.weight.get(ctx);
        if !y.dtype().is_float() {
            return ops::embedding(y, &w);
        }
        let (v, d) = (w.dims()[0], w.dims()[1]);
        if v != 2 || y.rank() != 1 {
            return Err(Error::Invalid(format!(
                "embedding {}: a class given as a number (float, shape [N]) selects between \
                 two rows; this table has {v} and the class has shape {} (pass i64 ids)",
                self.weight.name(),
                y.shape()
            )));
        }
        let n = y.dims()[0];
        let y = ops::reshape(&y.cast(w.dtype()), &[n, 1])?;
        let not_y = ops::add_scalar(&ops::neg(&y)?, 1.0)?;
        let e0 = ops::narrow(&w, 0, 0, 1)?;
        let e1 = ops::narrow(&w, 0, 1, 1)?;
        let rows = ops::add(&ops::mul(&not_y, &e0)?, &ops::mul(&y, &e1)?)?;
        debug_assert_eq!(rows.dims(), [n, d]);
        Ok(rows)
    }
}
