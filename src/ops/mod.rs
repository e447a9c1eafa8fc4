//! Every op of the engine. One folder per family; in each, `mod.rs` holds the public API (shape
//! and dtype checks, the dispatch to a backend, the backward rule), `reference.rs` the naive f64
//! loops (the oracle) and `cpu.rs` the fast f32 path.
//!
//! Dispatch: a tensor on `Device::Cpu` with dtype f32 takes the fast path; f32 on `Device::Emu`
//! or `Device::Cuda` takes the CUDA kernels (`gpu.rs` in a family: its launchers and Tensor
//! adapter, beside `kernels/<family>.cu`); everything else (the `Reference` device, f64 and
//! integers anywhere) the reference loops. Every op has one dispatch shape — one match on
//! [`Path`], the GPU side returning `Option<Result<…>>` where `None` means "no kernel for this
//! case" and runs the reference ([`gpu_or_reference`]) — and one backward rule whatever the
//! device.

pub(crate) mod float;

pub mod conv;
pub mod elementwise;
pub mod embedding;
pub mod linear;
pub mod loss;
pub mod norm;
pub(crate) mod optim;
pub mod pool;
pub mod precision;
pub mod reduce;
pub mod resample;
pub mod shape;

pub use conv::{conv2d, conv2d_backward_data, conv2d_backward_weight, Conv2dParams};
pub use elementwise::{
    abs, add, add_scalar, at_least, clamp, div, eq, exp, ge, gt, le, log, lt, maximum, minimum,
    mul, mul_scalar, neg, relu, sigmoid, softplus, sqrt, square, sub, tanh, unary, where_, Unary,
};
pub use embedding::embedding;
pub use linear::{linear, matmul};
pub use norm::{batch_norm, Affine, BatchNormState, BnMode};
pub use pool::{avg_pool2d, max_pool2d};
pub use precision::{gpu_precision, set_gpu_precision, Precision};
pub use reduce::{broadcast_to, mean, mean_all, sum, sum_all, sum_to_shape};
pub use resample::{resize_bilinear, upsample_nearest};
pub use shape::{cat, narrow, reshape, split};

use crate::{DType, Device, Error, Result, Tensor};

/// Which implementation an op runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    Reference,
    Cpu,
    /// The CUDA kernels (`Device::Emu` / `Device::Cuda`, f32). Ops without a kernel take the
    /// reference loops, which read the device values back and write their result to the device.
    Gpu,
}

pub(crate) fn path_of(t: &Tensor) -> Path {
    match (t.device(), t.dtype()) {
        (Device::Cpu, DType::F32) => Path::Cpu,
        (d, DType::F32) if d.is_gpu() => Path::Gpu,
        _ => Path::Reference,
    }
}

/// The GPU side of an op's dispatch: `Some(result)` from the kernels, or `None` when they do
/// not cover the case, which then runs on the reference loops (`reference`), counted as a host
/// fallback at the caller's line ([`crate::gpu::counts_on_this_thread`]).
#[track_caller]
pub(crate) fn gpu_or_reference<T>(
    gpu: Option<Result<T>>,
    reference: impl FnOnce() -> T,
) -> Result<T> {
    match gpu {
        Some(r) => r,
        None => {
            crate::gpu::count_fallback();
            Ok(reference())
        }
    }
}

/// [`gpu_or_reference`] for a reference that can fail.
#[track_caller]
pub(crate) fn gpu_or_try_reference<T>(
    gpu: Option<Result<T>>,
    reference: impl FnOnce() -> Result<T>,
) -> Result<T> {
    match gpu {
        Some(r) => r,
        None => {
            crate::gpu::count_fallback();
            reference()
        }
    }
}

/// Errors unless `t` holds floats.
pub(crate) fn require_float(op: &str, t: &Tensor) -> Result<()> {
    if !t.dtype().is_float() {
        return Err(Error::DType(format!(
            "{op}: expected a float tensor (f32 or f64), got {} of shape {}",
            t.dtype(),
            t.shape()
        )));
    }
    if t.numel() == 0 {
        return Err(Error::Shape(format!(
            "{op}: empty tensor of shape {}",
            t.shape()
        )));
    }
    Ok(())
}

/// Errors unless `a` and `b` share dtype and device.
pub(crate) fn require_same(op: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dtype() != b.dtype() {
        return Err(Error::DType(format!(
            "{op}: dtypes differ: {} {} vs {} {}",
            a.dtype(),
            a.shape(),
            b.dtype(),
            b.shape()
        )));
    }
    if a.device() != b.device() {
        return Err(Error::Device(format!(
            "{op}: devices differ: {} vs {} (move one with to_device)",
            a.device(),
            b.device()
        )));
    }
    Ok(())
}

/// A new untracked tensor from f64 values, stored in `like`'s dtype on `like`'s device.
pub(crate) fn from_f64_like(
    values: &[f64],
    shape: impl Into<crate::Shape>,
    like: &Tensor,
) -> Tensor {
    Tensor::from_f64_as(values, shape, like.dtype(), like.device()).expect("op output size")
}

/// A new untracked f32 tensor on `like`'s device.
pub(crate) fn from_f32_like(
    values: Vec<f32>,
    shape: impl Into<crate::Shape>,
    like: &Tensor,
) -> Tensor {
    Tensor::from_f32(values, shape, like.device()).expect("op output size")
}

/// True when at least one input is recorded on a tape and recording is on.
pub(crate) fn any_tracked(inputs: &[&Tensor]) -> bool {
    crate::autograd::is_grad_enabled() && inputs.iter().any(|t| t.is_tracked())
}

/// Runs `f` on every element of a float tensor: `Cpu`/f32 in parallel, otherwise in f64.
pub(crate) fn map_float(
    t: &Tensor,
    f32f: impl Fn(f32) -> f32 + Sync,
    f64f: impl Fn(f64) -> f64,
) -> Tensor {
    use rayon::prelude::*;
    match path_of(t) {
        Path::Cpu => {
            let out = t.host_f32(|x| {
                x.par_iter()
                    .with_min_len(4096)
                    .map(|&v| f32f(v))
                    .collect::<Vec<_>>()
            });
            from_f32_like(out, t.shape().clone(), t)
        }
        path @ (Path::Reference | Path::Gpu) => {
            if path == Path::Gpu {
                crate::gpu::count_fallback();
            }
            let out: Vec<f64> = t.to_vec_f64().into_iter().map(f64f).collect();
            from_f64_like(&out, t.shape().clone(), t)
        }
    }
}
