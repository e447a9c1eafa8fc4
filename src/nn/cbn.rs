//! Conditional BatchNorm (the generator's decoder): an affine-free BatchNorm, then per-sample
//! γ, β rows looked up by class id from `Embedding(num_classes, 2C)` (`{name}.embed.weight`;
//! γ half N(1, 0.02), β half 0), `out = γ[y]·BN(x) + β[y]`. Gradients scatter-add into the
//! embedding rows through the embedding op.

use super::{BatchNorm2d, Ctx, Embedding, NamedBuffer, ParamGroup};
use crate::ops;
use crate::rng::Rng;
use crate::{Result, Tensor};

pub struct ConditionalBatchNorm2d {
    pub bn: BatchNorm2d,
    pub embed: Embedding,
    pub channels: usize,
}

impl ConditionalBatchNorm2d {
    pub fn new(
        group: &mut ParamGroup,
        name: &str,
        c: usize,
        num_classes: usize,
        rng: &mut Rng,
    ) -> Result<Self> {
        let bn = BatchNorm2d::new(group, &format!("{name}.bn"), c, false)?;
        let mut init = Vec::with_capacity(num_classes * 2 * c);
        for _ in 0..num_classes {
            init.extend((0..c).map(|_| (1.0 + 0.02 * rng.normal()) as f32));
            init.extend(std::iter::repeat_n(0.0f32, c));
        }
        let embed = Embedding::new(
            group,
            &format!("{name}.embed"),
            num_classes,
            2 * c,
            None,
            rng,
        )?;
        embed.weight.set(&init)?;
        Ok(ConditionalBatchNorm2d {
            bn,
            embed,
            channels: c,
        })
    }

    /// `x`: N×C×H×W; `y`: class ids, i64 of shape [N].
    pub fn forward(&mut self, x: &Tensor, y: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let (n, c, _, _) = x.shape().dims4("conditional_batch_norm")?;
        if y.dims() != [n] {
            return Err(crate::Error::Shape(format!(
                "conditional_batch_norm: class ids must have shape [{n}], got {}",
                y.shape()
            )));
        }
        let h = self.bn.forward(x, ctx)?;
        let gb = self.embed.forward(y, ctx)?;
        let gamma = ops::reshape(&ops::narrow(&gb, 1, 0, c)?, &[n, c, 1, 1])?;
        let beta = ops::reshape(&ops::narrow(&gb, 1, c, c)?, &[n, c, 1, 1])?;
        ops::add(&ops::mul(&h, &gamma)?, &beta)
    }

    pub fn buffers(&self) -> Vec<NamedBuffer> {
        self.bn.buffers()
    }
}
