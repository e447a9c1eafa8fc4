//! The generator `G` (`ResBlocksGenerator`): five class-conditioned upsampling
//! [`GeneratorBlock`]s from `z = f5`, with the encoder's features concatenated decoder-first
//! before the blocks listed in `skips` (`[1, 2, 3, 4]` in the paper: block i takes
//! `cat([dec, f_{5−i}])`), then `BN(64)` (0) → ReLU → `Conv3×3(64→1, bias)` (2) giving `r`, and
//! the output head: `x_cf = tanh(r + x)` (perturbation-based, the paper's COIN) or `tanh(r)`.

use super::blocks::{GeneratorBlock, GeneratorBlockCfg, Upsample};
use super::width::scaled;
use crate::nn::init::Init;
use crate::nn::{BatchNorm2d, BatchNormCfg, Conv2d, Conv2dCfg, Ctx, Scope};
use crate::rng::Rng;
use crate::{ops, Error, Result, Tensor};

/// The paper's decoder channels at width ×1.
pub const GENERATOR_CHANNELS: [usize; 5] = [1024, 512, 256, 128, 64];

/// How `r` becomes the counterfactual.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputHead {
    /// `tanh(r + x)` (the authors' `ptb_based`; `skip-add-tanh` in a configuration).
    #[default]
    SkipAddTanh,
    /// `tanh(r)`.
    Tanh,
}

/// The generator's shape.
#[derive(Clone, Debug)]
pub struct GeneratorCfg {
    /// The encoder's block channels `[f1 … f5]`.
    pub encoder_channels: Vec<usize>,
    pub width: f64,
    pub num_classes: usize,
    pub up: Upsample,
    /// Blocks (1…4) that take a skip connection.
    pub skips: Vec<usize>,
    pub head: OutputHead,
    /// Spectrally normalised 1×1 shortcuts (synthetic) or plain ones (TUH).
    pub sn: bool,
    /// Multiplies the last convolution's initial weight and bias (1: the authors' Xavier
    /// weight and PyTorch's bias; 0: `r = 0`, so the perturbation head starts at `tanh(x)`).
    /// The random draws are the same whatever the factor, so nothing else's init changes.
    pub head_init_scale: f64,
}

pub struct Generator {
    blocks: Vec<GeneratorBlock>,
    last_bn: BatchNorm2d,
    last_conv: Conv2d,
    skips: Vec<usize>,
    head: OutputHead,
}

impl Generator {
    pub fn new(s: &mut Scope, cfg: &GeneratorCfg, rng: &mut Rng) -> Result<Generator> {
        let enc = &cfg.encoder_channels;
        if enc.len() != 5 || cfg.skips.iter().any(|&k| k == 0 || k > 4) {
            return Err(Error::Invalid(format!(
                "generator: needs 5 encoder stages and skips within 1..=4, got {enc:?} / {:?}",
                cfg.skips
            )));
        }
        let out = scaled(&GENERATOR_CHANNELS, cfg.width);
        let mut blocks = Vec::new();
        let mut cin = enc[4];
        for (i, &cout) in out.iter().enumerate() {
            if cfg.skips.contains(&i) {
                cin += enc[4 - i];
            }
            let bc = GeneratorBlockCfg {
                cin,
                cout,
                num_classes: cfg.num_classes,
                up: cfg.up,
                sn: cfg.sn,
            };
            blocks.push(GeneratorBlock::new(
                &mut s.scope(format!("blocks.{i}")),
                bc,
                rng,
            )?);
            cin = cout;
        }
        let last_bn = BatchNorm2d::new(&mut s.scope("last_block.0"), BatchNormCfg::new(cin))?;
        let last = Conv2dCfg {
            cin,
            cout: 1,
            k: 3,
            padding: 1,
            bias: true,
            init: Init::XavierUniform(1.0),
            ..Default::default()
        };
        let last_conv = Conv2d::new(&mut s.scope("last_block.2"), last, rng)?;
        if cfg.head_init_scale != 1.0 {
            last_conv.scale_values(cfg.head_init_scale)?;
        }
        Ok(Generator {
            blocks,
            last_bn,
            last_conv,
            skips: cfg.skips.clone(),
            head: cfg.head,
        })
    }

    /// The counterfactual for encoder features `feats = [f1 … f5]`, classes `y` ([N]: i64 ids or f32 y ∈ {0, 1}) and,
    /// for the perturbation head, the input image `x`.
    pub fn forward(&self, feats: &[Tensor], y: &Tensor, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        if feats.len() != 5 {
            return Err(Error::Invalid(format!(
                "generator: expected 5 encoder features, got {}",
                feats.len()
            )));
        }
        let mut h = feats[4].clone();
        for (i, b) in self.blocks.iter().enumerate() {
            if self.skips.contains(&i) {
                h = ops::cat(&[&h, &feats[4 - i]], 1)?;
            }
            h = b.forward(&h, y, ctx)?;
        }
        let r = self
            .last_conv
            .forward(&ops::relu(&self.last_bn.forward(&h, ctx)?)?, ctx)?;
        match self.head {
            OutputHead::SkipAddTanh => ops::tanh(&ops::add(&r, x)?),
            OutputHead::Tanh => ops::tanh(&r),
        }
    }
}
