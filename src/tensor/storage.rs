//! Host storage: one typed buffer shared by every view of it.
//!
//! Storage is shared behind a lock because parameters live in flat arenas that the optimizer
//! updates in place while views of them exist (the model's parameter tensors). Dropped f32
//! storage goes back to the buffer recycler (`recycler.rs`).

use super::DType;
use std::sync::{Arc, RwLock};

/// A typed, contiguous buffer: host vectors, or values in a GPU device's memory (tensors on
/// `Device::Emu` / `Device::Cuda` that ops compute there): f32, or u8 masks from comparisons,
/// held as f32 0.0 / 1.0 so the kernels read them like any other operand.
#[derive(Clone, Debug)]
pub enum Buffer {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    Gpu(crate::gpu::DevBuf),
    /// A u8 mask in device memory, one f32 (0.0 or 1.0) per element.
    GpuMask(crate::gpu::DevBuf),
}

impl Buffer {
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::F32(_) => DType::F32,
            Buffer::F64(_) => DType::F64,
            Buffer::I64(_) => DType::I64,
            Buffer::U8(_) => DType::U8,
            Buffer::Gpu(_) => DType::F32,
            Buffer::GpuMask(_) => DType::U8,
        }
    }
    pub fn len(&self) -> usize {
        match self {
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::U8(v) => v.len(),
            Buffer::Gpu(b) | Buffer::GpuMask(b) => b.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Moves host f32 values into the memory of `device` when it is a GPU device (other
    /// devices, dtypes and device buffers stay as they are).
    pub(crate) fn move_to_device(&mut self, device: crate::Device) -> crate::Result<()> {
        if let (Buffer::F32(v), true) = (&*self, device.is_gpu()) {
            *self = Buffer::Gpu(crate::gpu::for_device(device)?.upload(v)?);
        }
        Ok(())
    }
    /// A copy of f32 values on the host (device values read back); None for other dtypes.
    pub(crate) fn f32_values(&self) -> Option<crate::Result<Vec<f32>>> {
        match self {
            Buffer::F32(v) => Some(Ok(v.clone())),
            Buffer::Gpu(d) => Some(d.gpu().download(d)),
            _ => None,
        }
    }
    pub fn zeros(dtype: DType, n: usize) -> Buffer {
        match dtype {
            DType::F32 => Buffer::F32(super::recycler::zeroed(n)),
            DType::F64 => Buffer::F64(vec![0.0; n]),
            DType::I64 => Buffer::I64(vec![0; n]),
            DType::U8 => Buffer::U8(vec![0; n]),
        }
    }
    /// Converts `values` to `dtype` (rounding toward zero for integers).
    pub fn from_f64(values: &[f64], dtype: DType) -> Buffer {
        match dtype {
            DType::F32 => Buffer::F32(values.iter().map(|&v| v as f32).collect()),
            DType::F64 => Buffer::F64(values.to_vec()),
            DType::I64 => Buffer::I64(values.iter().map(|&v| v as i64).collect()),
            DType::U8 => Buffer::U8(values.iter().map(|&v| v as u8).collect()),
        }
    }
    /// The elements `[offset, offset + n)` widened to f64.
    pub fn range_f64(&self, offset: usize, n: usize) -> Vec<f64> {
        self.try_range_f64(offset, n)
            .expect("device read (a failed GPU copy cannot be recovered here)")
    }
    /// A host copy of the elements `[offset, offset + n)` in their dtype (device values read
    /// back: f32, or a mask's 0.0 / 1.0 as u8); a failed device read is an error.
    pub(crate) fn host_copy(&self, offset: usize, n: usize) -> crate::Result<Buffer> {
        let r = offset..offset + n;
        Ok(match self {
            Buffer::F32(v) => Buffer::F32(v[r].to_vec()),
            Buffer::F64(v) => Buffer::F64(v[r].to_vec()),
            Buffer::I64(v) => Buffer::I64(v[r].to_vec()),
            Buffer::U8(v) => Buffer::U8(v[r].to_vec()),
            Buffer::Gpu(b) | Buffer::GpuMask(b) => {
                let s = b.slice(offset, n)?;
                let v = s.gpu().download(&s)?;
                match self {
                    Buffer::GpuMask(_) => Buffer::U8(v.iter().map(|&x| x as u8).collect()),
                    _ => Buffer::F32(v),
                }
            }
        })
    }
    /// The elements `[offset, offset + n)` widened to f64; a failed device read is an error.
    pub fn try_range_f64(&self, offset: usize, n: usize) -> crate::Result<Vec<f64>> {
        let r = offset..offset + n;
        Ok(match self {
            Buffer::F32(v) => v[r].iter().map(|&x| x as f64).collect(),
            Buffer::F64(v) => v[r].to_vec(),
            Buffer::I64(v) => v[r].iter().map(|&x| x as f64).collect(),
            Buffer::U8(v) => v[r].iter().map(|&x| x as f64).collect(),
            Buffer::Gpu(b) | Buffer::GpuMask(b) => {
                let s = b.slice(offset, n)?;
                s.gpu()
                    .download(&s)?
                    .into_iter()
                    .map(|x| x as f64)
                    .collect()
            }
        })
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Buffer::F32(v) = self {
            super::recycler::recycle(std::mem::take(v));
        }
    }
}

pub(crate) type SharedBuffer = Arc<RwLock<Buffer>>;
