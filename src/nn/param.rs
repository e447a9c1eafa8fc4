//! Parameter groups: every parameter of a group is a view into one flat f32 arena, its gradient
//! into a second, and an optimizer keeps its moments in arenas of the same length — one fused
//! update per group (one kernel launch on a GPU).

use super::{BufferHandle, Scope};
use crate::ops::optim::{self, Flat};
use crate::tensor::{Buffer, SharedBuffer, TensorId};
use crate::{Device, Error, Gradients, Result, Shape, Tensor};
use std::sync::{Arc, RwLock};

/// Where one parameter sits in its group's arena.
#[derive(Clone, Debug)]
pub struct ParamSlot {
    pub name: String,
    pub offset: usize,
    pub shape: Shape,
    pub id: TensorId,
}

/// A handle to one parameter: a view into its group's arena with a stable tensor id.
#[derive(Clone)]
pub struct Param {
    arena: SharedBuffer,
    slot: ParamSlot,
    device: Device,
}

impl Param {
    /// The parameter as an (untracked) tensor sharing the arena's storage.
    pub fn value(&self) -> Tensor {
        to_device_memory(&self.arena, self.device);
        Tensor::from_parts(
            self.arena.clone(),
            self.slot.offset,
            self.slot.shape.clone(),
            self.device,
            self.slot.id,
        )
    }
    /// The parameter, tracked on the context's tape when the context records parameters.
    pub fn get(&self, ctx: &super::Ctx) -> Tensor {
        ctx.param(&self.value())
    }
    pub fn name(&self) -> &str {
        &self.slot.name
    }
    pub fn shape(&self) -> &Shape {
        &self.slot.shape
    }
    pub fn id(&self) -> TensorId {
        self.slot.id
    }
    /// Overwrites the values (e.g. when loading a checkpoint).
    pub fn set(&self, values: &[f32]) -> Result<()> {
        if values.len() != self.slot.shape.numel() {
            return Err(Error::Shape(format!(
                "parameter {}: {} values given for shape {}",
                self.slot.name,
                values.len(),
                self.slot.shape
            )));
        }
        self.value().with_f32_mut(|d| d.copy_from_slice(values))
    }
}

/// Moves a GPU group's arena into device memory in place (every view shares it), once; if the
/// upload fails the arena stays on the host and ops report the device error themselves.
fn to_device_memory(arena: &SharedBuffer, device: Device) {
    if !device.is_gpu() || !matches!(&*arena.read().expect("arena lock"), Buffer::F32(_)) {
        return;
    }
    let _ = arena.write().expect("arena lock").move_to_device(device);
}

/// The arena's values on the host (a copy for device arenas).
fn host_values(b: &Buffer) -> Result<Vec<f32>> {
    b.f32_values().unwrap_or_else(|| {
        Err(Error::DType(format!(
            "parameter arenas are f32, got {}",
            b.dtype()
        )))
    })
}

/// A group of parameters trained by one optimizer.
pub struct ParamGroup {
    name: String,
    device: Device,
    arena: SharedBuffer,
    /// The gradient arena: on the host, or (GPU groups, from the first `accumulate`) in device
    /// memory.
    grad: Flat,
    slots: Vec<ParamSlot>,
    buffers: Vec<BufferHandle>,
}

impl ParamGroup {
    pub fn new(name: &str, device: Device) -> ParamGroup {
        ParamGroup {
            name: name.to_string(),
            device,
            arena: Arc::new(RwLock::new(Buffer::F32(Vec::new()))),
            grad: Flat::zeros(0),
            slots: Vec::new(),
            buffers: Vec::new(),
        }
    }
    /// A named scope over this group (`""` is the root): module constructors register their
    /// parameters and buffers through it.
    pub fn scope(&mut self, prefix: &str) -> Scope<'_> {
        Scope::new(self, prefix)
    }
    fn check_new_name(&self, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::Invalid(format!(
                "an empty tensor name in group {}",
                self.name
            )));
        }
        if self.slots.iter().any(|s| s.name == name)
            || self.buffers.iter().any(|b| b.name() == name)
        {
            return Err(Error::Invalid(format!(
                "tensor {name} registered twice in group {}",
                self.name
            )));
        }
        Ok(())
    }
    /// Registers a non-trainable buffer with its initial value (moved to the group's device;
    /// integer buffers stay on the host).
    pub fn add_buffer(&mut self, name: &str, value: Tensor) -> Result<BufferHandle> {
        self.check_new_name(name)?;
        let value = if value.dtype() == crate::DType::F32 {
            value.to_device(self.device)
        } else {
            value
        };
        let h = BufferHandle::new(name, value);
        self.buffers.push(h.clone());
        Ok(h)
    }
    /// Every registered buffer, in registration order.
    pub fn buffers(&self) -> &[BufferHandle] {
        &self.buffers
    }
    /// Every parameter and buffer by its full name: the group's part of a `state_dict`.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = self
            .params()
            .iter()
            .map(|p| (p.name().to_string(), p.value()))
            .collect();
        out.extend(self.buffers.iter().map(|b| (b.name().to_string(), b.get())));
        out
    }
    /// Number of trainable scalars (buffers excluded), as PyTorch's parameter counts.
    pub fn num_parameters(&self) -> usize {
        self.numel()
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn device(&self) -> Device {
        self.device
    }

    /// Appends a parameter with the given initial values.
    pub fn add(&mut self, name: &str, shape: impl Into<Shape>, init: Vec<f32>) -> Result<Param> {
        let shape = shape.into();
        if init.len() != shape.numel() {
            return Err(Error::Shape(format!(
                "parameter {name}: {} initial values for shape {shape}",
                init.len()
            )));
        }
        self.check_new_name(name)?;
        let offset = {
            let mut g = self.arena.write().expect("arena lock");
            if let Buffer::Gpu(_) = &*g {
                // Added after the arena moved to the device: grow it on the host, move again.
                *g = Buffer::F32(host_values(&g)?);
            }
            let Buffer::F32(v) = &mut *g else {
                unreachable!("arenas are f32")
            };
            let o = v.len();
            v.extend_from_slice(&init);
            o
        };
        // Grown after gradients moved to the device: they stay on the host until the next
        // accumulate moves them again.
        self.grad.resize(offset + init.len())?;
        let slot = ParamSlot {
            name: name.to_string(),
            offset,
            shape,
            id: TensorId::fresh(),
        };
        self.slots.push(slot.clone());
        Ok(Param {
            arena: self.arena.clone(),
            slot,
            device: self.device,
        })
    }

    /// Total number of scalar parameters.
    pub fn numel(&self) -> usize {
        self.grad.len()
    }
    pub fn slots(&self) -> &[ParamSlot] {
        &self.slots
    }
    /// Handles to every parameter, in registration order.
    pub fn params(&self) -> Vec<Param> {
        self.slots
            .iter()
            .map(|s| Param {
                arena: self.arena.clone(),
                slot: s.clone(),
                device: self.device,
            })
            .collect()
    }
    /// The tensors of every parameter (untracked), to pass as `wrt` to `Tape::backward`.
    pub fn tensors(&self) -> Vec<Tensor> {
        self.params().iter().map(Param::value).collect()
    }

    /// Adds each parameter's gradient from `grads` into the gradient arena; parameters the loss
    /// did not reach get nothing. Returns how many parameters received a gradient.
    pub fn accumulate(&mut self, grads: &Gradients) -> Result<usize> {
        let mut n = 0;
        for s in &self.slots {
            if let Some(g) = grads.get_id(s.id) {
                if g.shape() != &s.shape {
                    return Err(Error::Shape(format!(
                        "gradient of {} has shape {}, parameter has {}",
                        s.name,
                        g.shape(),
                        s.shape
                    )));
                }
                optim::accumulate(&mut self.grad, s.offset, g, self.device)?;
                n += 1;
            }
        }
        Ok(n)
    }
    pub fn zero_grad(&mut self) -> Result<()> {
        self.grad.fill_zero()
    }
    /// The gradient arena (read back from the device for GPU groups). Panics if a device read
    /// fails; library code uses [`ParamGroup::try_grad`].
    pub fn grad(&self) -> std::borrow::Cow<'_, [f32]> {
        self.try_grad().expect("device read")
    }
    /// The gradient arena; a failed device read is an error.
    pub fn try_grad(&self) -> Result<std::borrow::Cow<'_, [f32]>> {
        self.grad.to_host()
    }
    /// Errors, naming the parameter, when a gradient holds a NaN or infinity (a device arena is
    /// summed on the device first and read back only when the sum is not finite).
    pub(crate) fn check_finite_grad(&self) -> Result<()> {
        if !optim::may_be_non_finite(&self.grad)? {
            return Ok(());
        }
        let grad = self.try_grad()?;
        for s in &self.slots {
            let g = &grad[s.offset..s.offset + s.shape.numel()];
            if let Some(bad) = g.iter().find(|v| !v.is_finite()) {
                return Err(Error::NonFinite(format!(
                    "gradient of parameter {} (group {}) contains {bad}",
                    s.name, self.name
                )));
            }
        }
        Ok(())
    }
    /// The gradient of one parameter (panics on a failed device read; for tests and tools).
    pub fn grad_of(&self, p: &Param) -> Vec<f32> {
        self.grad()[p.slot.offset..p.slot.offset + p.slot.shape.numel()].to_vec()
    }
    /// Runs an optimizer's update `f` with the parameter arena (moved to device memory first
    /// for GPU groups), the gradient arena and the group's device.
    pub(crate) fn update<R>(
        &mut self,
        f: impl FnOnce(&mut Buffer, &mut Flat, Device) -> Result<R>,
    ) -> Result<R> {
        to_device_memory(&self.arena, self.device);
        let mut g = self.arena.write().expect("arena lock");
        f(&mut g, &mut self.grad, self.device)
    }
    /// Moves every parameter a fraction `w` of the way to `live`'s (`p += w·(live − p)`): the
    /// update of an averaged copy of `live`. Both groups must hold the same parameters in the
    /// same order on the same device; buffers are not touched.
    pub fn lerp_towards(&mut self, live: &ParamGroup, w: f64) -> Result<()> {
        let same = self.device == live.device
            && self.slots.len() == live.slots.len()
            && self
                .slots
                .iter()
                .zip(&live.slots)
                .all(|(a, b)| a.name == b.name && a.offset == b.offset && a.shape == b.shape);
        if !same {
            return Err(Error::Invalid(format!(
                "moving average: group {} does not hold the parameters of group {} on the same device",
                self.name, live.name
            )));
        }
        to_device_memory(&live.arena, live.device);
        let l = live.arena.read().expect("arena lock");
        self.update(|avg, _, device| optim::ema_update(avg, &l, w, device))
    }
    /// A copy of every parameter's values, flat. Panics if a device read fails; library code
    /// uses [`ParamGroup::try_values`].
    pub fn values(&self) -> Vec<f32> {
        self.try_values().expect("device read")
    }
    /// A copy of every parameter's values, flat; a failed device read is an error.
    pub fn try_values(&self) -> Result<Vec<f32>> {
        host_values(&self.arena.read().expect("arena lock"))
    }
}
