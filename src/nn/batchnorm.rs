//! `BatchNorm2d`: affine `{name}.weight`/`{name}.bias` (γ = 1, β = 0) optional; buffers
//! `{name}.running_mean` (0), `{name}.running_var` (1), `{name}.num_batches_tracked`.

use super::{Ctx, NamedBuffer, Param, ParamGroup};
use crate::ops::{batch_norm, BatchNormState};
use crate::{DType, Result, Tensor};

pub struct BatchNorm2d {
    pub name: String,
    pub weight: Option<Param>,
    pub bias: Option<Param>,
    pub state: BatchNormState,
    pub momentum: f64,
    pub eps: f64,
}

impl BatchNorm2d {
    /// PyTorch's defaults: momentum 0.1, eps 1e-5.
    pub fn new(group: &mut ParamGroup, name: &str, c: usize, affine: bool) -> Result<BatchNorm2d> {
        Self::with_eps(group, name, c, affine, 1e-5)
    }
    pub fn with_eps(
        group: &mut ParamGroup,
        name: &str,
        c: usize,
        affine: bool,
        eps: f64,
    ) -> Result<BatchNorm2d> {
        let (weight, bias) = if affine {
            (
                Some(group.add(&format!("{name}.weight"), [c], vec![1.0; c])?),
                Some(group.add(&format!("{name}.bias"), [c], vec![0.0; c])?),
            )
        } else {
            (None, None)
        };
        let dev = group.device();
        let state = BatchNormState {
            running_mean: Tensor::zeros([c], DType::F32, dev),
            running_var: Tensor::ones([c], DType::F32, dev),
            num_batches_tracked: 0,
        };
        Ok(BatchNorm2d {
            name: name.to_string(),
            weight,
            bias,
            state,
            momentum: 0.1,
            eps,
        })
    }

    /// Batch statistics (and a running-statistics update) when `ctx.training`, else running ones.
    pub fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let g = self.weight.as_ref().map(|p| p.get(ctx));
        let b = self.bias.as_ref().map(|p| p.get(ctx));
        batch_norm(
            x,
            g.as_ref(),
            b.as_ref(),
            Some(&mut self.state),
            ctx.training,
            self.momentum,
            self.eps,
        )
    }

    pub fn buffers(&self) -> Vec<NamedBuffer> {
        let dev = self.state.running_mean.device();
        vec![
            NamedBuffer {
                name: format!("{}.running_mean", self.name),
                tensor: self.state.running_mean.clone(),
            },
            NamedBuffer {
                name: format!("{}.running_var", self.name),
                tensor: self.state.running_var.clone(),
            },
            NamedBuffer {
                name: format!("{}.num_batches_tracked", self.name),
                tensor: Tensor::from_i64(
                    vec![self.state.num_batches_tracked],
                    Vec::<usize>::new(),
                    dev,
                )
                .expect("scalar"),
            },
        ]
    }
}
