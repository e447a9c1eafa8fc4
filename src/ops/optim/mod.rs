//! The optimizer's arithmetic as ops: Adam/AdamW's fused update of a flat parameter arena, the
//! exponential moving average of one arena towards another (the averaged networks), and
//! the accumulation of a parameter's gradient into a flat gradient arena. `optim::Adam` and
//! `nn::ParamGroup` keep the state and call these; like every op they have a reference (f64,
//! sequential: `reference.rs`), a fast CPU path (`cpu.rs`) and the kernels (`gpu.rs`,
//! kernels/optim.cu), chosen by the group's device.

mod cpu;
mod gpu;
mod reference;

use crate::tensor::Buffer;
use crate::{Device, Error, Result, Tensor};
use std::borrow::Cow;

/// A flat f32 array an optimizer keeps (a gradient arena, Adam's moments): on the host, or in
/// device memory (moved there by the first GPU op that uses it).
pub(crate) enum Flat {
    Host(Vec<f32>),
    Device(crate::gpu::DevBuf),
}

impl Flat {
    /// n zeros on the host.
    pub(crate) fn zeros(n: usize) -> Flat {
        Flat::Host(vec![0.0; n])
    }
    pub(crate) fn len(&self) -> usize {
        match self {
            Flat::Host(v) => v.len(),
            Flat::Device(d) => d.len(),
        }
    }
    /// The values on the host (a copy read back for device arrays).
    pub(crate) fn to_host(&self) -> Result<Cow<'_, [f32]>> {
        Ok(match self {
            Flat::Host(v) => Cow::Borrowed(v),
            Flat::Device(d) => Cow::Owned(d.gpu().download(d)?),
        })
    }
    /// Resizes to n values (new ones 0), on the host: a device array is read back first.
    pub(crate) fn resize(&mut self, n: usize) -> Result<()> {
        self.host_mut()?.resize(n, 0.0);
        Ok(())
    }
    /// Sets every value to 0, where the values are.
    pub(crate) fn fill_zero(&mut self) -> Result<()> {
        match self {
            Flat::Host(v) => v.fill(0.0),
            Flat::Device(d) => d.gpu().fill(d, 0.0)?,
        }
        Ok(())
    }
    /// The device array on GPU device `device` (uploading host values, once).
    fn on_device(&mut self, device: Device) -> Result<&crate::gpu::DevBuf> {
        if let Flat::Host(v) = self {
            *self = Flat::Device(crate::gpu::for_device(device)?.upload(v)?);
        }
        match self {
            Flat::Device(d) => Ok(d),
            Flat::Host(_) => unreachable!("moved to the device above"),
        }
    }
    /// The host values, mutable (reading a device array back first).
    fn host_mut(&mut self) -> Result<&mut Vec<f32>> {
        if let Flat::Device(d) = self {
            *self = Flat::Host(d.gpu().download(d)?);
        }
        match self {
            Flat::Host(v) => Ok(v),
            Flat::Device(_) => unreachable!("read back above"),
        }
    }
}

/// `dst[offset .. offset + src.numel()] += src`, on `device` (a GPU device keeps `dst` in its
/// memory; the host devices add on the host).
pub(crate) fn accumulate(
    dst: &mut Flat,
    offset: usize,
    src: &Tensor,
    device: Device,
) -> Result<()> {
    let n = src.numel();
    if offset + n > dst.len() {
        return Err(Error::Shape(format!(
            "gradient accumulation: {n} values at {offset} of an arena of {}",
            dst.len()
        )));
    }
    if device.is_gpu() {
        let d = dst.on_device(device)?.slice(offset, n)?;
        return gpu::accumulate(&d, src);
    }
    let v = src.try_to_vec_f32()?;
    reference::accumulate(&mut dst.host_mut()?[offset..offset + n], &v);
    Ok(())
}

/// False when the sum of `g` is finite, so it holds no NaN or infinity; true when it may
/// (a device array is summed on the device, one value read back; host arrays always answer
/// true: the caller inspects them directly).
pub(crate) fn may_be_non_finite(g: &Flat) -> Result<bool> {
    match g {
        Flat::Host(_) => Ok(true),
        Flat::Device(d) => Ok(!gpu::sum(d)?.is_finite()),
    }
}

/// Adam/AdamW's hyper-parameters (`optim::Adam` holds one; the update op takes them per step).
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

/// One Adam/AdamW step: the optimizer's hyper-parameters and the 1-based step number `t`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AdamStep {
    pub cfg: AdamConfig,
    pub t: i32,
}

impl AdamStep {
    /// (lr / (1 − β1ᵗ), √(1 − β2ᵗ)): the bias corrections folded into the update.
    pub(crate) fn corrections(&self) -> (f64, f64) {
        let bc1 = 1.0 - self.cfg.beta1.powi(self.t);
        let bc2 = 1.0 - self.cfg.beta2.powi(self.t);
        (self.cfg.lr / bc1, bc2.sqrt())
    }
}

/// One Adam/AdamW update of the parameter arena `params` (on `device`) from `grad`, with the
/// moments `m` and `v` updated in place.
pub(crate) fn adam_update(
    params: &mut Buffer,
    grad: &mut Flat,
    [m, v]: [&mut Flat; 2],
    step: &AdamStep,
    device: Device,
) -> Result<()> {
    let n = params.len();
    if grad.len() != n || m.len() != n || v.len() != n {
        return Err(Error::Shape(format!(
            "Adam: {n} parameters, {} gradients, {} / {} moments",
            grad.len(),
            m.len(),
            v.len()
        )));
    }
    match params {
        Buffer::Gpu(p) => {
            let (g, m, v) = (
                grad.on_device(device)?,
                m.on_device(device)?,
                v.on_device(device)?,
            );
            gpu::adam(p, [g, m, v], step)
        }
        Buffer::F32(p) => {
            let g = grad.to_host()?;
            let (m, v) = (m.host_mut()?, v.host_mut()?);
            match device {
                Device::Cpu => cpu::adam(p, &g, [m, v], step),
                _ => reference::adam(p, &g, [m, v], step),
            }
            Ok(())
        }
        other => Err(Error::DType(format!(
            "Adam: parameter arenas are f32, got {}",
            other.dtype()
        ))),
    }
}

/// The moving average's update of arena `avg` towards arena `live` (same length, same
/// device): `avg += w·(live − avg)`, `w = 1 − decay`.
pub(crate) fn ema_update(avg: &mut Buffer, live: &Buffer, w: f64, device: Device) -> Result<()> {
    if avg.len() != live.len() {
        return Err(Error::Shape(format!(
            "moving average: {} averaged values, {} live ones",
            avg.len(),
            live.len()
        )));
    }
    match (avg, live) {
        (Buffer::Gpu(a), Buffer::Gpu(l)) => gpu::ema(a, l, w as f32),
        (Buffer::F32(a), Buffer::F32(l)) => {
            match device {
                Device::Cpu => cpu::ema(a, l, w as f32),
                _ => reference::ema(a, l, w),
            }
            Ok(())
        }
        (a, l) => Err(Error::DType(format!(
            "moving average: arenas must be f32 on one device, got {} and {}",
            a.dtype(),
            l.dtype()
        ))),
    }
}
