//! A small image classifier with one logit: conv3×3 → BN → ReLU → avgpool 2 → conv3×3 → BN →
//! ReLU → avgpool 2 → conv3×3 → ReLU → global mean → linear. It exercises the same ops as the
//! paper's networks (conv, BN train/eval, pooling, linear, BCE) at a size a laptop trains in
//! seconds.

use crate::nn::{BatchNorm2d, BatchNormCfg, Conv2d, Conv2dCfg, Ctx, Linear, LinearCfg, ParamGroup};
use crate::rng::Rng;
use crate::{ops, Device, Result, Tensor};

pub struct TinyCnn {
    pub params: ParamGroup,
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    conv3: Conv2d,
    fc: Linear,
}

impl TinyCnn {
    /// `width` channels in the first layer (doubling after each pool).
    pub fn new(width: usize, device: Device, seed: u64) -> Result<TinyCnn> {
        let mut rng = Rng::new(seed);
        let mut g = ParamGroup::new("tiny_cnn", device);
        let (w1, w2) = (width, 2 * width);
        let conv = |cin, cout, bias| Conv2dCfg {
            cin,
            cout,
            k: 3,
            padding: 1,
            bias,
            ..Default::default()
        };
        let conv1 = Conv2d::new(&mut g.scope("conv1"), conv(1, w1, false), &mut rng)?;
        let bn1 = BatchNorm2d::new(&mut g.scope("bn1"), BatchNormCfg::new(w1))?;
        let conv2 = Conv2d::new(&mut g.scope("conv2"), conv(w1, w2, false), &mut rng)?;
        let bn2 = BatchNorm2d::new(&mut g.scope("bn2"), BatchNormCfg::new(w2))?;
        let conv3 = Conv2d::new(&mut g.scope("conv3"), conv(w2, w2, true), &mut rng)?;
        let fc_cfg = LinearCfg {
            fin: w2,
            fout: 1,
            ..Default::default()
        };
        let fc = Linear::new(&mut g.scope("fc"), fc_cfg, &mut rng)?;
        Ok(TinyCnn {
            params: g,
            conv1,
            bn1,
            conv2,
            bn2,
            conv3,
            fc,
        })
    }

    /// Logits, shape [N, 1], for images N×1×H×W.
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let h = ops::relu(&self.bn1.forward(&self.conv1.forward(x, ctx)?, ctx)?)?;
        let h = ops::avg_pool2d(&h, 2)?;
        let h = ops::relu(&self.bn2.forward(&self.conv2.forward(&h, ctx)?, ctx)?)?;
        let h = ops::avg_pool2d(&h, 2)?;
        let h = ops::relu(&self.conv3.forward(&h, ctx)?)?;
        let h = ops::mean(&h, &[2, 3], false)?;
        self.fc.forward(&h, ctx)
    }
}
