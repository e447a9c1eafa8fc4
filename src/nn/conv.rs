//! `Conv2d`: weight `{name}.weight` [Cout, Cin, K, K], optional `{name}.bias` [Cout].

use super::init::{default_bias, Init};
use super::{Ctx, Param, ParamGroup};
use crate::ops::{conv2d, Conv2dParams};
use crate::rng::Rng;
use crate::{Result, Tensor};

pub struct Conv2d {
    pub weight: Param,
    pub bias: Option<Param>,
    pub params: Conv2dParams,
}

impl Conv2d {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        group: &mut ParamGroup,
        name: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        padding: usize,
        bias: bool,
        init: Init,
        rng: &mut Rng,
    ) -> Result<Conv2d> {
        let fan_in = cin * k * k;
        let fan_out = cout * k * k;
        let w = init.sample(rng, cout * fan_in, fan_in, fan_out);
        let weight = group.add(&format!("{name}.weight"), [cout, cin, k, k], w)?;
        let bias = if bias {
            Some(group.add(
                &format!("{name}.bias"),
                [cout],
                default_bias(rng, cout, fan_in),
            )?)
        } else {
            None
        };
        Ok(Conv2d {
            weight,
            bias,
            params: Conv2dParams::new(stride, padding),
        })
    }

    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let b = self.bias.as_ref().map(|b| b.get(ctx));
        conv2d(x, &self.weight.get(ctx), b.as_ref(), self.params)
    }
}
