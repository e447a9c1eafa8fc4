//! The residual blocks of COIN's encoder, generator and discriminator (Singla et al.'s
//! ResBlocks as the authors' code builds them), with the authors' `nn.Sequential` indices as
//! parameter names. Each block's output is `left + right`.

use crate::nn::init::Init;
use crate::nn::{
    BatchNorm2d, BatchNormCfg, CbnCfg, ConditionalBatchNorm2d, Conv2d, Conv2dCfg, Ctx, SNConv2d,
    Scope,
};
use crate::rng::Rng;
use crate::{ops, Result, Tensor};

/// The ×2 upsampling of the generator: nearest (synthetic) or bilinear with
/// `align_corners=True` (`nn.UpsamplingBilinear2d`, TUH).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Upsample {
    Nearest,
    Bilinear,
}

impl Upsample {
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Upsample::Nearest => ops::upsample_nearest(x, 2),
            Upsample::Bilinear => {
                let (_, _, h, w) = x.shape().dims4("upsample")?;
                ops::resize_bilinear(x, 2 * h, 2 * w, true)
            }
        }
    }
}

/// 1×1 shortcut conv: xavier_uniform(1).
pub(crate) fn conv1x1(cin: usize, cout: usize, bias: bool) -> Conv2dCfg {
    Conv2dCfg {
        cin,
        cout,
        k: 1,
        bias,
        init: Init::XavierUniform(1.0),
        ..Default::default()
    }
}
/// 3×3 main-path conv, padding 1: xavier_uniform(√2).
pub(crate) fn conv3x3(cin: usize, cout: usize, bias: bool) -> Conv2dCfg {
    Conv2dCfg {
        cin,
        cout,
        k: 3,
        padding: 1,
        bias,
        init: Init::XavierUniform(2f64.sqrt()),
        ..Default::default()
    }
}

/// A 1×1 shortcut that is spectrally normalised (synthetic) or plain (TUH, `use_snconv: false`).
pub(crate) enum Shortcut {
    Sn(SNConv2d),
    Plain(Conv2d),
}

impl Shortcut {
    pub(crate) fn new(s: &mut Scope, cfg: Conv2dCfg, sn: bool, rng: &mut Rng) -> Result<Shortcut> {
        Ok(if sn {
            Shortcut::Sn(SNConv2d::new(s, cfg, rng)?)
        } else {
            Shortcut::Plain(Conv2d::new(s, cfg, rng)?)
        })
    }
    pub(crate) fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        match self {
            Shortcut::Sn(c) => c.forward(x, ctx),
            Shortcut::Plain(c) => c.forward(x, ctx),
        }
    }
}

/// Encoder block, downsampling ×2:
/// left `AvgPool(2)` (0) → 1×1 (1); right `BN(cin)` (0) → ReLU → `AvgPool(2)` → 3×3 (3) →
/// `BN(cout)` (4) → ReLU → 3×3 (6).
pub struct EncoderBlock {
    short: Shortcut,
    bn1: BatchNorm2d,
    conv1: Conv2d,
    bn2: BatchNorm2d,
    conv2: Conv2d,
}

impl EncoderBlock {
    pub fn new(s: &mut Scope, cin: usize, cout: usize, sn: bool, rng: &mut Rng) -> Result<Self> {
        let short = Shortcut::new(
            &mut s.scope("left_branch.1"),
            conv1x1(cin, cout, false),
            sn,
            rng,
        )?;
        let mut r = s.scope("right_branch");
        let bn1 = BatchNorm2d::new(&mut r.scope(0), BatchNormCfg::new(cin))?;
        let conv1 = Conv2d::new(&mut r.scope(3), conv3x3(cin, cout, false), rng)?;
        let bn2 = BatchNorm2d::new(&mut r.scope(4), BatchNormCfg::new(cout))?;
        let conv2 = Conv2d::new(&mut r.scope(6), conv3x3(cout, cout, false), rng)?;
        Ok(EncoderBlock {
            short,
            bn1,
            conv1,
            bn2,
            conv2,
        })
    }
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let left = self.short.forward(&ops::avg_pool2d(x, 2)?, ctx)?;
        let h = ops::avg_pool2d(&ops::relu(&self.bn1.forward(x, ctx)?)?, 2)?;
        let h = ops::relu(&self.bn2.forward(&self.conv1.forward(&h, ctx)?, ctx)?)?;
        ops::add(&left, &self.conv2.forward(&h, ctx)?)
    }
}

/// Generator block, upsampling ×2 and conditioned on a class id:
/// left `Up` (0) → 1×1 (1); right `cbn_relu_first` (CBN(cin) + ReLU) → `upsample_conv`
/// (`Up` (0) → 3×3 (1)) → `cbn_relu_second` (CBN(cout) + ReLU) → `last_conv` 3×3.
pub struct GeneratorBlock {
    up: Upsample,
    short: Shortcut,
    cbn1: ConditionalBatchNorm2d,
    conv1: Conv2d,
    cbn2: ConditionalBatchNorm2d,
    conv2: Conv2d,
}

/// The generator block's shape: channels, classes, upsampling and shortcut kind.
#[derive(Clone, Copy, Debug)]
pub struct GeneratorBlockCfg {
    pub cin: usize,
    pub cout: usize,
    pub num_classes: usize,
    pub up: Upsample,
    pub sn: bool,
}

impl GeneratorBlock {
    pub fn new(s: &mut Scope, cfg: GeneratorBlockCfg, rng: &mut Rng) -> Result<Self> {
        let GeneratorBlockCfg { cin, cout, .. } = cfg;
        let short = Shortcut::new(
            &mut s.scope("left_branch.1"),
            conv1x1(cin, cout, false),
            cfg.sn,
            rng,
        )?;
        let cbn = |channels| CbnCfg {
            channels,
            num_classes: cfg.num_classes,
            relu: true,
            ..Default::default()
        };
        let cbn1 = ConditionalBatchNorm2d::new(&mut s.scope("cbn_relu_first"), cbn(cin), rng)?;
        let conv1 = Conv2d::new(
            &mut s.scope("upsample_conv.1"),
            conv3x3(cin, cout, false),
            rng,
        )?;
        let cbn2 = ConditionalBatchNorm2d::new(&mut s.scope("cbn_relu_second"), cbn(cout), rng)?;
        let conv2 = Conv2d::new(&mut s.scope("last_conv"), conv3x3(cout, cout, false), rng)?;
        Ok(GeneratorBlock {
            up: cfg.up,
            short,
            cbn1,
            conv1,
            cbn2,
            conv2,
        })
    }
    /// `y`: the classes, [N] (i64 ids or f32 y ∈ {0, 1}).
    pub fn forward(&self, x: &Tensor, y: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let left = self.short.forward(&self.up.apply(x)?, ctx)?;
        let h = self.up.apply(&self.cbn1.forward(x, y, ctx)?)?;
        let h = self.cbn2.forward(&self.conv1.forward(&h, ctx)?, y, ctx)?;
        ops::add(&left, &self.conv2.forward(&h, ctx)?)
    }
}

/// Discriminator block (every conv spectrally normalised, with a bias):
/// - first block: left `AvgPool(2)` (0) → 1×1 (1); right 3×3 (1) → ReLU → 3×3 (3) →
///   `AvgPool(2)`, no pre-activation;
/// - `cin ≠ cout`: left 1×1 (0) → `AvgPool(ds)`; right ReLU → 3×3 (1) → ReLU → 3×3 (3) →
///   `AvgPool(ds)`;
/// - `cin == cout` with ds 1: left identity, right without pooling.
pub struct DiscriminatorBlock {
    first: bool,
    pool: usize,
    short: Option<SNConv2d>,
    conv1: SNConv2d,
    conv2: SNConv2d,
}

impl DiscriminatorBlock {
    pub fn new(
        s: &mut Scope,
        cin: usize,
        cout: usize,
        ds: usize,
        first: bool,
        rng: &mut Rng,
    ) -> Result<Self> {
        let short = if first {
            Some(SNConv2d::new(
                &mut s.scope("left_branch.1"),
                conv1x1(cin, cout, true),
                rng,
            )?)
        } else if cin != cout || ds != 1 {
            Some(SNConv2d::new(
                &mut s.scope("left_branch.0"),
                conv1x1(cin, cout, true),
                rng,
            )?)
        } else {
            None
        };
        let conv1 = SNConv2d::new(
            &mut s.scope("right_branch.1"),
            conv3x3(cin, cout, true),
            rng,
        )?;
        let conv2 = SNConv2d::new(
            &mut s.scope("right_branch.3"),
            conv3x3(cout, cout, true),
            rng,
        )?;
        Ok(DiscriminatorBlock {
            first,
            pool: ds,
            short,
            conv1,
            conv2,
        })
    }
    fn pool(&self, x: Tensor) -> Result<Tensor> {
        if self.pool > 1 {
            ops::avg_pool2d(&x, self.pool)
        } else {
            Ok(x)
        }
    }
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let left = match (&self.short, self.first) {
            (Some(c), true) => c.forward(&self.pool(x.clone())?, ctx)?,
            (Some(c), false) => self.pool(c.forward(x, ctx)?)?,
            (None, _) => x.clone(),
        };
        let h = if self.first { x.clone() } else { ops::relu(x)? };
        let h = ops::relu(&self.conv1.forward(&h, ctx)?)?;
        let right = self.pool(self.conv2.forward(&h, ctx)?)?;
        ops::add(&left, &right)
    }
}
