//! Adam and AdamW, PyTorch's update order and numerics:
//! `g ← g + wd·p` (Adam, coupled L2) or `p ← p·(1 − lr·wd)` (AdamW, decoupled);
//! `m ← β1·m + (1 − β1)·g`; `v ← β2·v + (1 − β2)·g²`;
//! `p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)`. β1 may be 0 (the paper's GAN).
//!
//! Before updating, the gradients are checked for NaN/inf; a bad one fails the step with the
//! parameter's name and leaves every value untouched.

use crate::nn::ParamGroup;
use crate::{Error, Result};
use rayon::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// AdamW's decoupled weight decay instead of Adam's coupled L2.
    pub decoupled: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }
}

/// Adam(W) state for one parameter group. For a group on a GPU device the moments live in
/// device memory and the update is one fused kernel launch (kernels/adam.cu).
pub struct Adam {
    pub config: AdamConfig,
    pub step: u64,
    m: Vec<f32>,
    v: Vec<f32>,
    /// Device moments (GPU groups), created at the first step from `m`, `v`.
    device_moments: Option<(crate::gpu::DevBuf, crate::gpu::DevBuf)>,
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
            m: vec![0.0; group.numel()],
            v: vec![0.0; group.numel()],
            device_moments: None,
        })
    }

    /// The moments, for checkpoints (read back from the device for GPU groups).
    pub fn moments(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        match &self.device_moments {
            Some((m, v)) => Ok((m.gpu().download(m)?, m.gpu().download(v)?)),
            None => Ok((self.m.clone(), self.v.clone())),
        }
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
        (self.step, self.m, self.v) = (step, m, v);
        self.device_moments = None;
        Ok(())
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
        // Device gradients: one summed value says whether a NaN/inf may be there; only then are
        // they read back to name the parameter.
        let suspect = match group.device_grad() {
            Some(d) => {
                let one = d.gpu().alloc_f32(1)?;
                crate::gpu::kernels::reduce(d.gpu(), d, &one, [1, d.len(), 1], 1.0)?;
                !d.gpu().download(&one)?[0].is_finite()
            }
            None => true,
        };
        let grad = if suspect {
            group.try_grad()?
        } else {
            std::borrow::Cow::Borrowed(&[][..])
        };
        for s in group.slots().iter().filter(|_| suspect) {
            let g = &grad[s.offset..s.offset + s.shape.numel()];
            if let Some(bad) = g.iter().find(|v| !v.is_finite()) {
                return Err(Error::NonFinite(format!(
                    "gradient of parameter {} (group {}) contains {bad}",
                    s.name,
                    group.name()
                )));
            }
        }
        self.step += 1;
        let c = self.config;
        let t = self.step as i32;
        let bc1 = 1.0 - c.beta1.powi(t);
        let bc2 = 1.0 - c.beta2.powi(t);
        let step_size = (c.lr / bc1) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        let (b1, b2, eps, wd, lr) = (
            c.beta1 as f32,
            c.beta2 as f32,
            c.eps as f32,
            c.weight_decay as f32,
            c.lr as f32,
        );
        if let Some(arena) = group.device_arena() {
            let gpu = arena.gpu().clone();
            if self.device_moments.is_none() {
                self.device_moments = Some((gpu.upload(&self.m)?, gpu.upload(&self.v)?));
            }
            let (m, v) = self.device_moments.as_ref().expect("just set");
            let uploaded;
            let grad = match group.device_grad() {
                Some(g) => g,
                None => {
                    uploaded = gpu.upload(&group.try_grad()?)?;
                    &uploaded
                }
            };
            let s = crate::gpu::kernels::AdamStep {
                lr,
                beta1: b1,
                beta2: b2,
                eps,
                weight_decay: wd,
                decoupled: c.decoupled,
                t,
            };
            return crate::gpu::kernels::adam(&gpu, [&arena, grad, m, v], arena.len(), s);
        }
        let (m, v) = (&mut self.m, &mut self.v);
        group.with_arena(|p, g, _| {
            p.par_iter_mut()
                .zip(g.par_iter())
                .zip(m.par_iter_mut().zip(v.par_iter_mut()))
                .with_min_len(4096)
                .for_each(|((p, &g), (m, v))| {
                    let mut g = g;
                    if wd != 0.0 {
                        if c.decoupled {
                            *p *= 1.0 - lr * wd;
                        } else {
                            g += wd * *p;
                        }
                    }
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    let denom = v.sqrt() / bc2_sqrt + eps;
                    *p -= step_size * *m / denom;
                });
        })
    }
}
