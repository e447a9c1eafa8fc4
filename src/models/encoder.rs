//! The encoder `E` (`ResBlocksEncoder`): a first block `Conv3×3(1→64)` (0) → ReLU → `BN(64)` (2)
//! at full resolution, then five downsampling [`EncoderBlock`]s; it returns every block's output
//! `[f1 … f5]` (the generator's skips and its input `z = f5`).

use super::blocks::EncoderBlock;
use super::width::scaled;
use crate::nn::init::Init;
use crate::nn::{BatchNorm2d, BatchNormCfg, Conv2d, Conv2dCfg, Ctx, Scope};
use crate::rng::Rng;
use crate::{ops, Result, Tensor};

/// The paper's encoder channels at width ×1.
pub const ENCODER_CHANNELS: [usize; 5] = [64, 128, 256, 512, 1024];
/// The first block's channels: 64 at every width (as the authors' code).
pub const ENCODER_STEM: usize = 64;

pub struct Encoder {
    stem_conv: Conv2d,
    stem_bn: BatchNorm2d,
    blocks: Vec<EncoderBlock>,
    pub channels: Vec<usize>,
}

impl Encoder {
    /// `width` scales the five blocks; `sn` makes the 1×1 shortcuts spectrally normalised.
    pub fn new(
        s: &mut Scope,
        in_channels: usize,
        width: f64,
        sn: bool,
        rng: &mut Rng,
    ) -> Result<Encoder> {
        let stem = Conv2dCfg {
            cin: in_channels,
            cout: ENCODER_STEM,
            k: 3,
            padding: 1,
            bias: false,
            init: Init::XavierNormal(1.0),
            ..Default::default()
        };
        let stem_conv = Conv2d::new(&mut s.scope("first_block.0"), stem, rng)?;
        let stem_bn = BatchNorm2d::new(
            &mut s.scope("first_block.2"),
            BatchNormCfg::new(ENCODER_STEM),
        )?;
        let channels = scaled(&ENCODER_CHANNELS, width);
        let mut blocks = Vec::new();
        let mut cin = ENCODER_STEM;
        for (i, &cout) in channels.iter().enumerate() {
            blocks.push(EncoderBlock::new(
                &mut s.scope(format!("blocks.{i}")),
                cin,
                cout,
                sn,
                rng,
            )?);
            cin = cout;
        }
        Ok(Encoder {
            stem_conv,
            stem_bn,
            blocks,
            channels,
        })
    }

    /// `[f1, …, f5]`, each half the previous resolution, for N×C×H×W `x` (H, W divisible by 32).
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Vec<Tensor>> {
        let mut h = self
            .stem_bn
            .forward(&ops::relu(&self.stem_conv.forward(x, ctx)?)?, ctx)?;
        let mut feats = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            h = b.forward(&h, ctx)?;
            feats.push(h.clone());
        }
        Ok(feats)
    }
}
