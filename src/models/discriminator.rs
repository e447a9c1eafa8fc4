//! The projection discriminator `D` (`ResBlocksDiscriminator`): spectrally normalised
//! [`DiscriminatorBlock`]s (6 for synthetic data, `[2,2,2,2,2,1]`; 5 for TUH), then ReLU, a
//! global sum over H×W giving `h`, and the logit `sn_dense(h) + ⟨embd[y], h⟩`.

use super::blocks::DiscriminatorBlock;
use super::width::scaled;
use crate::nn::init::Init;
use crate::nn::{Ctx, Embedding, EmbeddingCfg, LinearCfg, SNLinear, Scope};
use crate::rng::Rng;
use crate::{ops, Error, Result, Tensor};

/// The synthetic-data discriminator at width ×1: channels and downsampling per block.
pub const DISCRIMINATOR_SYNTHETIC: [(usize, usize); 6] =
    [(64, 2), (128, 2), (256, 2), (512, 2), (1024, 2), (1024, 1)];
/// The TUH discriminator ("disk-5ds").
pub const DISCRIMINATOR_TUH: [(usize, usize); 5] =
    [(64, 2), (128, 2), (256, 2), (512, 2), (1024, 2)];

pub struct Discriminator {
    blocks: Vec<DiscriminatorBlock>,
    dense: SNLinear,
    embd: Embedding,
}

impl Discriminator {
    /// `layout`: (channels at ×1, downsampling) per block.
    pub fn new(
        s: &mut Scope,
        in_channels: usize,
        layout: &[(usize, usize)],
        width: f64,
        num_classes: usize,
        rng: &mut Rng,
    ) -> Result<Self> {
        if layout.is_empty() {
            return Err(Error::Invalid(
                "discriminator: needs at least one block".into(),
            ));
        }
        let chans = scaled(&layout.iter().map(|l| l.0).collect::<Vec<_>>(), width);
        let mut blocks = Vec::new();
        let mut cin = in_channels;
        for (i, (&cout, &(_, ds))) in chans.iter().zip(layout).enumerate() {
            blocks.push(DiscriminatorBlock::new(
                &mut s.scope(format!("blocks.{i}")),
                cin,
                cout,
                ds,
                i == 0,
                rng,
            )?);
            cin = cout;
        }
        let dense_cfg = LinearCfg {
            fin: cin,
            fout: 1,
            bias: true,
            init: Init::XavierUniform(1.0),
        };
        let dense = SNLinear::new(&mut s.scope("sn_dense"), dense_cfg, rng)?;
        let embd_cfg = EmbeddingCfg {
            num: num_classes,
            dim: cin,
            init: Some(Init::XavierUniform(1.0)),
        };
        let embd = Embedding::new(&mut s.scope("embd"), embd_cfg, rng)?;
        Ok(Discriminator {
            blocks,
            dense,
            embd,
        })
    }

    /// Logits [N, 1] for images `x` and classes `y` ([N]: i64 ids, or the class as f32
    /// y ∈ {0, 1}, as [`Embedding::forward`](crate::nn::Embedding::forward) reads them).
    pub fn forward(&self, x: &Tensor, y: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let mut h = x.clone();
        for b in &self.blocks {
            h = b.forward(&h, ctx)?;
        }
        let h = ops::sum(&ops::relu(&h)?, &[2, 3], false)?;
        let out = self.dense.forward(&h, ctx)?;
        let proj = ops::sum(&ops::mul(&self.embd.forward(y, ctx)?, &h)?, &[1], true)?;
        ops::add(&out, &proj)
    }
}
