//! A small image classifier with one logit: conv3×3 → BN → ReLU → avgpool 2 → conv3×3 → BN →
//! ReLU → avgpool 2 → conv3×3 → ReLU → global mean → linear. It exercises the same ops as the
//! paper's networks (conv, BN train/eval, pooling, linear, BCE) at a size a laptop trains in
//! seconds.

use crate::nn::init::Init;
use crate::nn::{BatchNorm2d, Conv2d, Ctx, Linear, NamedBuffer, ParamGroup};
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
        let conv1 = Conv2d::new(
            &mut g,
            "conv1",
            1,
            w1,
            3,
            1,
            1,
            false,
            Init::Default,
            &mut rng,
        )?;
        let bn1 = BatchNorm2d::new(&mut g, "bn1", w1, true)?;
        let conv2 = Conv2d::new(
            &mut g,
            "conv2",
            w1,
            w2,
            3,
            1,
            1,
            false,
            Init::Default,
            &mut rng,
        )?;
        let bn2 = BatchNorm2d::new(&mut g, "bn2", w2, true)?;
        let conv3 = Conv2d::new(
            &mut g,
            "conv3",
            w2,
            w2,
            3,
            1,
            1,
            true,
            Init::Default,
            &mut rng,
        )?;
        let fc = Linear::new(&mut g, "fc", w2, 1, true, Init::Default, &mut rng)?;
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
    pub fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let h = ops::relu(&self.bn1.forward(&self.conv1.forward(x, ctx)?, ctx)?)?;
        let h = ops::avg_pool2d(&h, 2)?;
        let h = ops::relu(&self.bn2.forward(&self.conv2.forward(&h, ctx)?, ctx)?)?;
        let h = ops::avg_pool2d(&h, 2)?;
        let h = ops::relu(&self.conv3.forward(&h, ctx)?)?;
        let h = ops::mean(&h, &[2, 3], false)?;
        self.fc.forward(&h, ctx)
    }

    pub fn buffers(&self) -> Vec<NamedBuffer> {
        let mut b = self.bn1.buffers();
        b.extend(self.bn2.buffers());
        b
    }
}
