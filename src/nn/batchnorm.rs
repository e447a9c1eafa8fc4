//! `BatchNorm2d`: affine `{scope}.weight`/`{scope}.bias` (γ = 1, β = 0) optional; buffers
//! `{scope}.running_mean` (0), `{scope}.running_var` (1), `{scope}.num_batches_tracked` (i64
//! scalar), registered in the group and updated by training-mode forward passes.

use super::{BufferHandle, Ctx, Param, Scope};
use crate::ops::{batch_norm, Affine, BatchNormState, BnMode};
use crate::{DType, Error, Result, Tensor};

/// A batch norm's configuration; the defaults are PyTorch's (affine, eps 1e-5, momentum 0.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormCfg {
    pub channels: usize,
    pub affine: bool,
    pub eps: f64,
    pub momentum: f64,
}

impl Default for BatchNormCfg {
    fn default() -> Self {
        BatchNormCfg {
            channels: 0,
            affine: true,
            eps: 1e-5,
            momentum: 0.1,
        }
    }
}

impl BatchNormCfg {
    /// PyTorch's defaults for `c` channels.
    pub fn new(c: usize) -> BatchNormCfg {
        BatchNormCfg {
            channels: c,
            ..Default::default()
        }
    }
}

pub struct BatchNorm2d {
    pub weight: Option<Param>,
    pub bias: Option<Param>,
    pub running_mean: BufferHandle,
    pub running_var: BufferHandle,
    pub num_batches_tracked: BufferHandle,
    pub momentum: f64,
    pub eps: f64,
}

impl BatchNorm2d {
    pub fn new(s: &mut Scope, cfg: BatchNormCfg) -> Result<BatchNorm2d> {
        let c = cfg.channels;
        if c == 0 || cfg.eps.is_nan() || cfg.eps <= 0.0 || !(0.0..=1.0).contains(&cfg.momentum) {
            return Err(Error::Invalid(format!(
                "batch norm {}: need channels > 0, eps > 0, momentum in [0, 1], got {cfg:?}",
                s.prefix()
            )));
        }
        let (weight, bias) = if cfg.affine {
            (
                Some(s.param("weight", [c], vec![1.0; c])?),
                Some(s.param("bias", [c], vec![0.0; c])?),
            )
        } else {
            (None, None)
        };
        let dev = s.device();
        let running_mean = s.buffer("running_mean", Tensor::zeros([c], DType::F32, dev))?;
        let running_var = s.buffer("running_var", Tensor::ones([c], DType::F32, dev))?;
        let num_batches_tracked = s.buffer(
            "num_batches_tracked",
            Tensor::from_i64(vec![0], Vec::<usize>::new(), dev)?,
        )?;
        Ok(BatchNorm2d {
            weight,
            bias,
            running_mean,
            running_var,
            num_batches_tracked,
            momentum: cfg.momentum,
            eps: cfg.eps,
        })
    }

    /// The running statistics as the op takes them.
    pub fn state(&self) -> Result<BatchNormState> {
        Ok(BatchNormState {
            running_mean: self.running_mean.get(),
            running_var: self.running_var.get(),
            num_batches_tracked: self.num_batches_tracked.get().to_scalar()? as i64,
        })
    }

    /// Batch statistics (and a running-statistics update) when `ctx` is in training mode,
    /// running ones otherwise.
    pub fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<Tensor> {
        let g = self.weight.as_ref().map(|p| p.get(ctx));
        let b = self.bias.as_ref().map(|p| p.get(ctx));
        let affine = Affine {
            gamma: g.as_ref(),
            beta: b.as_ref(),
        };
        let mut state = self.state()?;
        if !ctx.training() {
            return batch_norm(x, affine, BnMode::Eval { state: &state }, self.eps);
        }
        let mode = BnMode::Train {
            state: Some(&mut state),
            momentum: ctx.bn_momentum().unwrap_or(self.momentum),
        };
        let y = batch_norm(x, affine, mode, self.eps)?;
        self.running_mean.set(state.running_mean)?;
        self.running_var.set(state.running_var)?;
        let n = Tensor::from_i64(
            vec![state.num_batches_tracked],
            Vec::<usize>::new(),
            x.device(),
        )?;
        self.num_batches_tracked.set(n)?;
        Ok(y)
    }
}
