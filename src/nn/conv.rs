//! `Conv2d`: weight `{scope}.weight` [Cout, Cin, K, K], optional `{scope}.bias` [Cout].

use super::init::{default_bias, Init};
use super::{Ctx, Param, Scope};
use crate::ops::{conv2d, Conv2dParams};
use crate::rng::Rng;
use crate::{Error, Result, Tensor};

/// A square convolution's configuration; the defaults are PyTorch's (stride 1, no padding,
/// a bias, kaiming-uniform weights).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2dCfg {
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub padding: usize,
    pub bias: bool,
    pub init: Init,
}

impl Default for Conv2dCfg {
    fn default() -> Self {
        Conv2dCfg {
            cin: 0,
            cout: 0,
            k: 1,
            stride: 1,
            padding: 0,
            bias: true,
            init: Init::Default,
        }
    }
}

impl Conv2dCfg {
    fn check(&self, name: &str) -> Result<()> {
        if self.cin == 0 || self.cout == 0 || self.k == 0 || self.stride == 0 {
            return Err(Error::Invalid(format!(
                "conv {name}: channels, kernel and stride must be positive, got {self:?}"
            )));
        }
        Ok(())
    }
}

pub struct Conv2d {
    pub weight: Param,
    pub bias: Option<Param>,
    pub params: Conv2dParams,
}

impl Conv2d {
    pub fn new(s: &mut Scope, cfg: Conv2dCfg, rng: &mut Rng) -> Result<Conv2d> {
        cfg.check(s.prefix())?;
        let Conv2dCfg { cin, cout, k, .. } = cfg;
        let fan_in = cin * k * k;
        let fan_out = cout * k * k;
        let w = cfg.init.sample(rng, cout * fan_in, fan_in, fan_out);
        let weight = s.param("weight", [cout, cin, k, k], w)?;
        let bias = if cfg.bias {
            Some(s.param("bias", [cout], default_bias(rng, cout, fan_in))?)
        } else {
            None
        };
        Ok(Conv2d {
            weight,
            bias,
            params: Conv2dParams::new(cfg.stride, cfg.padding),
        })
    }

    /// Multiplies the weight and the bias by `k` (an initialisation's scale).
    pub fn scale_values(&self, k: f64) -> Result<()> {
        for p in std::iter::once(&self.weight).chain(self.bias.as_ref()) {
            let v: Vec<f32> = p
                .value()
                .try_to_vec_f64()?
                .iter()
                .map(|x| (x * k) as f32)
                .collect();
            p.set(&v)?;
        }
        Ok(())
    }

    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let b = self.bias.as_ref().map(|b| b.get(ctx));
        conv2d(x, &self.weight.get(ctx), b.as_ref(), self.params)
    }
}
