//! The classifier `f`: torchvision's ResNet-18 with a 1-channel stem and a 1-logit head — a
//! 7×7 stride-2 conv (`conv1`), `bn1`, ReLU, 3×3 stride-2 max pool, four stages
//! (`layer1…4`) of two basic blocks (3×3 conv → BN → ReLU → 3×3 conv → BN, plus the input or a
//! 1×1 stride-2 conv → BN `downsample`, then ReLU), global average pool, `fc`. torchvision's
//! initialisation: convs kaiming-normal (fan_out, ReLU), BN γ = 1, β = 0, `fc` PyTorch's
//! default. `base` (64 in torchvision) sets the stage widths base·{1, 2, 4, 8}.

use crate::nn::init::Init;
use crate::nn::{BatchNorm2d, BatchNormCfg, Conv2d, Conv2dCfg, Ctx, Linear, LinearCfg, Scope};
use crate::rng::Rng;
use crate::{ops, Error, Result, Tensor};

fn conv(cin: usize, cout: usize, k: usize, stride: usize) -> Conv2dCfg {
    Conv2dCfg {
        cin,
        cout,
        k,
        stride,
        padding: k / 2,
        bias: false,
        init: Init::KaimingNormalFanOut,
    }
}

struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    downsample: Option<(Conv2d, BatchNorm2d)>,
}

impl BasicBlock {
    fn new(s: &mut Scope, cin: usize, cout: usize, stride: usize, rng: &mut Rng) -> Result<Self> {
        let conv1 = Conv2d::new(&mut s.scope("conv1"), conv(cin, cout, 3, stride), rng)?;
        let bn1 = BatchNorm2d::new(&mut s.scope("bn1"), BatchNormCfg::new(cout))?;
        let conv2 = Conv2d::new(&mut s.scope("conv2"), conv(cout, cout, 3, 1), rng)?;
        let bn2 = BatchNorm2d::new(&mut s.scope("bn2"), BatchNormCfg::new(cout))?;
        let downsample = if stride != 1 || cin != cout {
            let c = Conv2d::new(
                &mut s.scope("downsample.0"),
                conv(cin, cout, 1, stride),
                rng,
            )?;
            Some((
                c,
                BatchNorm2d::new(&mut s.scope("downsample.1"), BatchNormCfg::new(cout))?,
            ))
        } else {
            None
        };
        Ok(BasicBlock {
            conv1,
            bn1,
            conv2,
            bn2,
            downsample,
        })
    }
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let h = ops::relu(&self.bn1.forward(&self.conv1.forward(x, ctx)?, ctx)?)?;
        let h = self.bn2.forward(&self.conv2.forward(&h, ctx)?, ctx)?;
        let id = match &self.downsample {
            Some((c, bn)) => bn.forward(&c.forward(x, ctx)?, ctx)?,
            None => x.clone(),
        };
        ops::relu(&ops::add(&h, &id)?)
    }
}

/// The classifier's output: the logit [N, 1] and the last stage's activation (LayerCAM and
/// ScoreCAM read it).
pub struct ClassifierOutput {
    pub logits: Tensor,
    pub features: Tensor,
}

pub struct ResNet18 {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    layers: Vec<BasicBlock>,
    fc: Linear,
}

impl ResNet18 {
    pub fn new(s: &mut Scope, in_channels: usize, base: usize, rng: &mut Rng) -> Result<ResNet18> {
        if base == 0 {
            return Err(Error::Invalid(
                "resnet18: base width must be positive".into(),
            ));
        }
        let conv1 = Conv2d::new(&mut s.scope("conv1"), conv(in_channels, base, 7, 2), rng)?;
        let bn1 = BatchNorm2d::new(&mut s.scope("bn1"), BatchNormCfg::new(base))?;
        let mut layers = Vec::new();
        let mut cin = base;
        for stage in 0..4 {
            let cout = base << stage;
            for j in 0..2 {
                let stride = if stage > 0 && j == 0 { 2 } else { 1 };
                let mut bs = s.scope(format!("layer{}.{j}", stage + 1));
                layers.push(BasicBlock::new(&mut bs, cin, cout, stride, rng)?);
                cin = cout;
            }
        }
        let fc = Linear::new(
            &mut s.scope("fc"),
            LinearCfg {
                fin: cin,
                fout: 1,
                ..Default::default()
            },
            rng,
        )?;
        Ok(ResNet18 {
            conv1,
            bn1,
            layers,
            fc,
        })
    }

    /// Logits [N, 1] and the `layer4` activation.
    pub fn forward_with_features(&self, x: &Tensor, ctx: &Ctx) -> Result<ClassifierOutput> {
        let h = ops::relu(&self.bn1.forward(&self.conv1.forward(x, ctx)?, ctx)?)?;
        let mut h = ops::max_pool2d(&h, 3, 2, 1)?;
        for b in &self.layers {
            h = b.forward(&h, ctx)?;
        }
        let pooled = ops::mean(&h, &[2, 3], false)?;
        Ok(ClassifierOutput {
            logits: self.fc.forward(&pooled, ctx)?,
            features: h,
        })
    }

    /// Logits [N, 1].
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        Ok(self.forward_with_features(x, ctx)?.logits)
    }
}
