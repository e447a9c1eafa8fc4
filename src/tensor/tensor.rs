//! The `Tensor` handle: cheap to clone, a view (offset + shape) into shared contiguous storage.

use super::{Buffer, DType, Device, Shape, SharedBuffer};
use crate::autograd::Tape;
use crate::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Identity of a tensor for the autodiff tape. A parameter keeps one id for its whole life, so
/// gradients can be looked up by it; every op output gets a fresh one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub u64);

impl TensorId {
    pub fn fresh() -> TensorId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TensorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

struct Inner {
    id: TensorId,
    buf: SharedBuffer,
    offset: usize,
    shape: Shape,
    device: Device,
    tape: Option<Tape>,
}

/// An n-dimensional array: contiguous row-major elements `[offset, offset + numel)` of a shared
/// buffer. Reshape and narrow along the outermost axis are views (no copy); other narrows copy.
#[derive(Clone)]
pub struct Tensor(Arc<Inner>);

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor({} {} on {}{})",
            self.shape(),
            self.dtype(),
            self.device(),
            if self.is_tracked() { ", tracked" } else { "" }
        )
    }
}

impl Tensor {
    // ---- construction -------------------------------------------------------------------------

    pub(crate) fn from_parts(
        buf: SharedBuffer,
        offset: usize,
        shape: Shape,
        device: Device,
        id: TensorId,
    ) -> Tensor {
        Tensor(Arc::new(Inner {
            id,
            buf,
            offset,
            shape,
            device,
            tape: None,
        }))
    }

    /// A tensor owning `buf`, checked against `shape`. f32 values meant for a GPU device are
    /// copied there; device values meant for a host device are copied back.
    pub fn from_buffer(buf: Buffer, shape: impl Into<Shape>, device: Device) -> Result<Tensor> {
        let buf = Self::placed(buf, device).map_err(|(_, e)| e)?;
        Self::sized(buf, shape.into(), device)
    }

    /// `buf` in the memory `device` uses (f32 on a GPU device in device memory, device values
    /// for a host device copied back); on failure the original buffer and the error.
    fn placed(buf: Buffer, device: Device) -> std::result::Result<Buffer, (Buffer, Error)> {
        let moved = match (&buf, device.is_gpu()) {
            (Buffer::F32(v), true) => crate::gpu::for_device(device)
                .and_then(|g| g.upload(v))
                .map(Buffer::Gpu),
            (Buffer::Gpu(_) | Buffer::GpuMask(_), false) => buf.host_copy(0, buf.len()),
            _ => return Ok(buf),
        };
        moved.map_err(|e| (buf, e))
    }

    /// A tensor owning `buf` (already placed), checked against `shape`.
    fn sized(buf: Buffer, shape: Shape, device: Device) -> Result<Tensor> {
        if buf.len() != shape.numel() {
            return Err(Error::Shape(format!(
                "buffer of {} elements cannot have shape {shape} ({} elements)",
                buf.len(),
                shape.numel()
            )));
        }
        Ok(Self::from_parts(
            Arc::new(RwLock::new(buf)),
            0,
            shape,
            device,
            TensorId::fresh(),
        ))
    }

    pub fn from_f32(values: Vec<f32>, shape: impl Into<Shape>, device: Device) -> Result<Tensor> {
        Self::from_buffer(Buffer::F32(values), shape, device)
    }
    pub fn from_f64(values: Vec<f64>, shape: impl Into<Shape>, device: Device) -> Result<Tensor> {
        Self::from_buffer(Buffer::F64(values), shape, device)
    }
    pub fn from_i64(values: Vec<i64>, shape: impl Into<Shape>, device: Device) -> Result<Tensor> {
        Self::from_buffer(Buffer::I64(values), shape, device)
    }
    pub fn from_u8(values: Vec<u8>, shape: impl Into<Shape>, device: Device) -> Result<Tensor> {
        Self::from_buffer(Buffer::U8(values), shape, device)
    }
    /// Values given in f64, stored as `dtype`.
    pub fn from_f64_as(
        values: &[f64],
        shape: impl Into<Shape>,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        Self::from_buffer(Buffer::from_f64(values, dtype), shape, device)
    }
    pub fn zeros(shape: impl Into<Shape>, dtype: DType, device: Device) -> Tensor {
        let shape = shape.into();
        if let Some(t) = Self::filled_on_device(0.0, &shape, dtype, device) {
            return t;
        }
        Self::infallible(Buffer::zeros(dtype, shape.numel()), shape, device)
    }
    pub fn full(value: f64, shape: impl Into<Shape>, dtype: DType, device: Device) -> Tensor {
        let shape = shape.into();
        if let Some(t) = Self::filled_on_device(value, &shape, dtype, device) {
            return t;
        }
        let v = vec![value; shape.numel()];
        Self::infallible(Buffer::from_f64(&v, dtype), shape, device)
    }
    /// f32 constants on a GPU device are set there (no host values copied over); None
    /// elsewhere, or when the device cannot take them (see [`Self::infallible`]).
    fn filled_on_device(value: f64, shape: &Shape, dtype: DType, device: Device) -> Option<Tensor> {
        if dtype != DType::F32 || !device.is_gpu() {
            return None;
        }
        let b = crate::gpu::for_device(device)
            .and_then(|g| g.full_f32(shape.numel(), value as f32))
            .ok()?;
        Self::sized(Buffer::Gpu(b), shape.clone(), device).ok()
    }
    /// For the constructors that cannot fail: when a GPU device cannot take the values (no
    /// driver, out of memory), they stay on the host with the device's tag, and the first op on
    /// them reports the device's error instead of this constructor panicking.
    fn infallible(buf: Buffer, shape: Shape, device: Device) -> Tensor {
        let buf = Self::placed(buf, device).unwrap_or_else(|(host, _)| host);
        Self::sized(buf, shape, device).expect("constructors size their buffers")
    }
    pub fn ones(shape: impl Into<Shape>, dtype: DType, device: Device) -> Tensor {
        Self::full(1.0, shape, dtype, device)
    }
    pub fn scalar(value: f64, dtype: DType, device: Device) -> Tensor {
        Self::full(value, Shape(vec![]), dtype, device)
    }
    /// Zeros with this tensor's dtype and device.
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(self.shape().clone(), self.dtype(), self.device())
    }

    // ---- accessors ----------------------------------------------------------------------------

    pub fn id(&self) -> TensorId {
        self.0.id
    }
    pub fn shape(&self) -> &Shape {
        &self.0.shape
    }
    pub fn dims(&self) -> &[usize] {
        &self.0.shape.0
    }
    pub fn rank(&self) -> usize {
        self.0.shape.rank()
    }
    pub fn numel(&self) -> usize {
        self.0.shape.numel()
    }
    pub fn device(&self) -> Device {
        self.0.device
    }
    pub fn dtype(&self) -> DType {
        self.0.buf.read().expect("storage lock").dtype()
    }
    pub fn tape(&self) -> Option<&Tape> {
        self.0.tape.as_ref()
    }
    /// True if ops on this tensor are recorded on a tape.
    pub fn is_tracked(&self) -> bool {
        self.0.tape.is_some()
    }

    /// The same values, cut from every tape (gradients stop here). Shares storage.
    pub fn detach(&self) -> Tensor {
        Self::from_parts(
            self.0.buf.clone(),
            self.0.offset,
            self.0.shape.clone(),
            self.0.device,
            TensorId::fresh(),
        )
    }

    /// The same tensor (same id and storage) recorded on `tape`.
    pub(crate) fn with_tape(&self, tape: Option<Tape>) -> Tensor {
        Tensor(Arc::new(Inner {
            id: self.0.id,
            buf: self.0.buf.clone(),
            offset: self.0.offset,
            shape: self.0.shape.clone(),
            device: self.0.device,
            tape,
        }))
    }

    /// A view with another shape of the same number of elements (no copy, not recorded).
    pub(crate) fn view_as(&self, shape: Shape, offset_delta: usize) -> Tensor {
        Self::from_parts(
            self.0.buf.clone(),
            self.0.offset + offset_delta,
            shape,
            self.0.device,
            TensorId::fresh(),
        )
    }

    /// A copy of the same values on another backend.
    pub fn to_device(&self, device: Device) -> Tensor {
        let b = self.read_buffer();
        Tensor::from_buffer(b, self.shape().clone(), device).expect("same size")
    }

    // ---- host access --------------------------------------------------------------------------

    /// Runs `f` on this tensor's elements as f32. Errors if the dtype is not f32.
    pub fn with_f32<R>(&self, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
        let g = self.0.buf.read().expect("storage lock");
        match &*g {
            Buffer::F32(v) => Ok(f(&v[self.0.offset..self.0.offset + self.numel()])),
            Buffer::Gpu(b) => {
                let s = b.slice(self.0.offset, self.numel())?;
                Ok(f(&s.gpu().download(&s)?))
            }
            other => Err(Error::DType(format!(
                "expected f32, tensor is {}",
                other.dtype()
            ))),
        }
    }
    /// Runs `f` on this tensor's elements as mutable f32 (in-place updates of buffers).
    /// The fast CPU path's view of its f32 host values. Dispatch sends a tensor to the CPU
    /// path only when it is f32 on `Device::Cpu`, so anything else is an engine bug, reported
    /// here (one checked place) with what was found.
    pub(crate) fn host_f32<R>(&self, f: impl FnOnce(&[f32]) -> R) -> R {
        let g = self.0.buf.read().expect("storage lock");
        match &*g {
            Buffer::F32(v) => f(&v[self.0.offset..self.0.offset + self.numel()]),
            other => panic!(
                "engine bug: the CPU path got a {} tensor of shape {} on {} (dispatch sends \
                 only host f32 tensors there)",
                other.dtype(),
                self.shape(),
                self.device()
            ),
        }
    }
    pub(crate) fn with_f32_mut<R>(&self, f: impl FnOnce(&mut [f32]) -> R) -> Result<R> {
        let mut g = self.0.buf.write().expect("storage lock");
        let (o, n) = (self.0.offset, self.numel());
        match &mut *g {
            Buffer::F32(v) => Ok(f(&mut v[o..o + n])),
            Buffer::Gpu(b) => {
                let s = b.slice(o, n)?;
                let mut host = s.gpu().download(&s)?;
                let r = f(&mut host);
                s.gpu().write(&s, &host)?;
                Ok(r)
            }
            other => Err(Error::DType(format!(
                "expected f32, tensor is {}",
                other.dtype()
            ))),
        }
    }
    /// Runs `f` on this tensor's elements as i64. Errors if the dtype is not i64.
    pub fn with_i64<R>(&self, f: impl FnOnce(&[i64]) -> R) -> Result<R> {
        let g = self.0.buf.read().expect("storage lock");
        match &*g {
            Buffer::I64(v) => Ok(f(&v[self.0.offset..self.0.offset + self.numel()])),
            other => Err(Error::DType(format!(
                "expected i64, tensor is {}",
                other.dtype()
            ))),
        }
    }
    /// Runs `f` on this tensor's elements as u8 (masks). Errors if the dtype is not u8.
    pub fn with_u8<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let g = self.0.buf.read().expect("storage lock");
        match &*g {
            Buffer::U8(v) => Ok(f(&v[self.0.offset..self.0.offset + self.numel()])),
            Buffer::GpuMask(_) => {
                drop(g);
                match &self.try_read_buffer()? {
                    Buffer::U8(v) => Ok(f(v)),
                    _ => unreachable!("a device mask reads back as u8"),
                }
            }
            other => Err(Error::DType(format!(
                "expected u8, tensor is {}",
                other.dtype()
            ))),
        }
    }
    /// The elements widened to f64 (any dtype). Panics if a device read fails; library code
    /// uses [`Tensor::try_to_vec_f64`].
    pub fn to_vec_f64(&self) -> Vec<f64> {
        self.try_to_vec_f64().expect("device read")
    }
    /// The elements widened to f64 (any dtype); a failed device read is an error.
    pub fn try_to_vec_f64(&self) -> Result<Vec<f64>> {
        self.0
            .buf
            .read()
            .expect("storage lock")
            .try_range_f64(self.0.offset, self.numel())
    }
    /// The elements as f32 (any dtype; f64 is rounded). Panics if a device read fails; library
    /// code uses [`Tensor::try_to_vec_f32`].
    pub fn to_vec_f32(&self) -> Vec<f32> {
        self.try_to_vec_f32().expect("device read")
    }
    /// The elements as f32 (any dtype; f64 is rounded); a failed device read is an error.
    pub fn try_to_vec_f32(&self) -> Result<Vec<f32>> {
        let g = self.0.buf.read().expect("storage lock");
        Ok(match &*g {
            Buffer::F32(v) => v[self.0.offset..self.0.offset + self.numel()].to_vec(),
            Buffer::Gpu(b) => {
                let s = b.slice(self.0.offset, self.numel())?;
                s.gpu().download(&s)?
            }
            b => b
                .try_range_f64(self.0.offset, self.numel())?
                .iter()
                .map(|&x| x as f32)
                .collect(),
        })
    }
    /// The elements as i64 (any dtype; floats truncated).
    pub fn to_vec_i64(&self) -> Vec<i64> {
        let g = self.0.buf.read().expect("storage lock");
        match &*g {
            Buffer::I64(v) => v[self.0.offset..self.0.offset + self.numel()].to_vec(),
            b => b
                .range_f64(self.0.offset, self.numel())
                .iter()
                .map(|&x| x as i64)
                .collect(),
        }
    }
    /// A standalone copy of this view's elements.
    pub(crate) fn read_buffer(&self) -> Buffer {
        self.try_read_buffer().expect("device read")
    }
    /// A standalone copy of this view's elements; a failed device read is an error.
    pub(crate) fn try_read_buffer(&self) -> Result<Buffer> {
        self.0
            .buf
            .read()
            .expect("storage lock")
            .host_copy(self.0.offset, self.numel())
    }

    /// This view's device mask (a comparison's output on a GPU device), or None when the mask
    /// is held on the host.
    pub(crate) fn dev_mask(&self) -> Option<Result<crate::gpu::DevBuf>> {
        match &*self.0.buf.read().expect("storage lock") {
            Buffer::GpuMask(b) => Some(b.slice(self.0.offset, self.numel())),
            _ => None,
        }
    }

    /// A u8 mask over device values (0.0 / 1.0, a comparison kernel's output).
    pub(crate) fn from_dev_mask(
        b: crate::gpu::DevBuf,
        shape: impl Into<Shape>,
        device: Device,
    ) -> Result<Tensor> {
        Tensor::from_buffer(Buffer::GpuMask(b), shape, device)
    }

    /// This view's values on its GPU device: a slice of its device buffer, or (for host
    /// storage tagged with a GPU device, e.g. a parameter arena) a fresh upload.
    pub(crate) fn dev(&self) -> Result<crate::gpu::DevBuf> {
        let g = self.0.buf.read().expect("storage lock");
        match &*g {
            Buffer::Gpu(b) => b.slice(self.0.offset, self.numel()),
            Buffer::F32(v) => crate::gpu::for_device(self.device())?
                .upload(&v[self.0.offset..self.0.offset + self.numel()]),
            other => Err(Error::DType(format!(
                "GPU kernels take f32 tensors, this one is {}",
                other.dtype()
            ))),
        }
    }

    /// A tensor over device values (the output of a kernel).
    pub(crate) fn from_dev(
        b: crate::gpu::DevBuf,
        shape: impl Into<Shape>,
        device: Device,
    ) -> Result<Tensor> {
        Tensor::from_buffer(Buffer::Gpu(b), shape, device)
    }
    /// The single value of a one-element tensor, as f64.
    pub fn to_scalar(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::Shape(format!(
                "to_scalar needs a one-element tensor, got shape {}",
                self.shape()
            )));
        }
        Ok(self.try_to_vec_f64()?[0])
    }
    /// The value of a one-element loss, or `Error::NonFinite` naming `what` if it is NaN or
    /// infinite. This is the one host read a training step makes.
    pub fn finite_scalar(&self, what: &str) -> Result<f64> {
        let v = self.to_scalar()?;
        if !v.is_finite() {
            return Err(Error::NonFinite(format!("{what} is {v}")));
        }
        Ok(v)
    }
    /// A new tensor with the same values stored as `dtype` (not recorded on the tape).
    pub fn cast(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.detach();
        }
        Tensor::from_f64_as(
            &self.to_vec_f64(),
            self.shape().clone(),
            dtype,
            self.device(),
        )
        .expect("same size")
    }
}
