//! Adam and AdamW, PyTorch's update order and numerics:
//! `g ← g + wd·p` (Adam, coupled L2) or `p ← p·(1 − lr·wd)` (AdamW, decoupled);
//! `m ← β1·m + (1 − β1)·g`; `v ← β2·v + (1 − β2)·g²`;
//! `p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)`. β1 may be 0 (the paper's GAN).
//!
//! Before updating, the gradients are checked for NaN/inf; a bad one fails the step with the
//! parameter's name and leaves every value untouched.

use crate::nn::ParamGroup;
use crate::ops::optim::{AdamConfig, AdamStep, Flat};
use crate::{Error, Result, Tape, Tensor};

/// Adam(W) state for one parameter group. The update is an op (`ops::optim::adam_update`): for
/// a group on a GPU device the moments move to device memory at the first step and the update
/// is one fused kernel launch (kernels/optim.cu).
pub struct Adam {
    pub config: AdamConfig,
    pub step: u64,
    m: Flat,
    v: Flat,
}

impl Adam {
    pub fn new(group: &ParamGroup, config: AdamConfig) -> Result<Adam> {
        let c = config;
        if c.lr.is_nan()
            || c.lr < 0.0
            || !(0.0..1.0).contains(&c.beta1)
            || !(0.0..1.0).contains(&c.beta2)
            || c.eps.is_nan()
            || c.eps <= 0.0
        {
            return Err(Error::Invalid(format!(
                "Adam: need lr ≥ 0, 0 ≤ β1, β2 < 1 and eps > 0, got {c:?}"
            )));
        }
        Ok(Adam {
            config,
            step: 0,
            m: Flat::zeros(group.numel()),
            v: Flat::zeros(group.numel()),
        })
    }

    /// The moments, for checkpoints (read back from the device for GPU groups).
    pub fn moments(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        Ok((
            self.m.to_host()?.into_owned(),
            self.v.to_host()?.into_owned(),
        ))
    }
    /// Restores moments and step count from a checkpoint.
    pub fn restore(&mut self, step: u64, m: Vec<f32>, v: Vec<f32>) -> Result<()> {
        if m.len() != self.m.len() || v.len() != self.v.len() {
            return Err(Error::Shape(format!(
                "Adam: checkpoint moments have {} / {} entries, the group has {}",
                m.len(),
                v.len(),
                self.m.len()
            )));
        }
        (self.step, self.m, self.v) = (step, Flat::Host(m), Flat::Host(v));
        Ok(())
    }

    /// The optimizer step of a training iteration, in one place: the gradients of `loss`
    /// (recorded on `tape`) with respect to `group`'s tensors replace the group's gradient
    /// arena, then one [`step`](Self::step).
    pub fn minimize(&mut self, group: &mut ParamGroup, tape: &Tape, loss: &Tensor) -> Result<()> {
        let wrt = group.tensors();
        let grads = tape.backward(loss, &wrt.iter().collect::<Vec<_>>())?;
        group.zero_grad()?;
        group.accumulate(&grads)?;
        self.step(group)
    }

    /// One update of every parameter of `group` from its gradient arena.
    pub fn step(&mut self, group: &mut ParamGroup) -> Result<()> {
        if self.m.len() != group.numel() {
            return Err(Error::Shape(format!(
                "Adam: built for {} parameters, group {} has {}",
                self.m.len(),
                group.name(),
                group.numel()
            )));
        }
        group.check_finite_grad()?;
        self.step += 1;
        let h = AdamStep {
            cfg: self.config,
            t: self.step as i32,
        };
        group.update(|params, grad, device| {
            crate::ops::optim::adam_update(params, grad, [&mut self.m, &mut self.v], &h, device)
        })
    }
}
