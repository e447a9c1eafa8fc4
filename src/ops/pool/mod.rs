//! Pooling over NCHW planes: average pooling (kernel = stride, no padding, as `AvgPool2d(k)`)
//! and max pooling (any kernel, stride, padding; padded cells never win). Global sum and mean
//! pools are `ops::sum` / `ops::mean` over axes [2, 3].

mod cpu;
mod gpu;
mod reference;

use super::{any_tracked, gpu_or_reference, path_of, require_float, Path};
use crate::autograd::record;
use crate::{Error, Result, Tensor};

/// Average pooling with a k×k window and stride k (trailing rows/columns that do not fill a
/// window are dropped, as PyTorch).
pub fn avg_pool2d(x: &Tensor, k: usize) -> Result<Tensor> {
    require_float("avg_pool2d", x)?;
    let (n, c, h, w) = x.shape().dims4("avg_pool2d")?;
    if k == 0 || h < k || w < k {
        return Err(Error::Shape(format!(
            "avg_pool2d: window {k} does not fit input {}",
            x.shape()
        )));
    }
    let (ho, wo) = (h / k, w / k);
    let y = match path_of(x) {
        Path::Cpu => cpu::avg_fwd(x, k, ho, wo),
        Path::Gpu => gpu_or_reference(gpu::avg_fwd(x, k), || reference::avg_fwd(x, k, ho, wo))?,
        Path::Reference => reference::avg_fwd(x, k, ho, wo),
    };
    if !any_tracked(&[x]) {
        return Ok(y);
    }
    let in_dims = [n, c, h, w];
    record(
        "avg_pool2d",
        &[x],
        y,
        Box::new(move |g, _| {
            Ok(vec![Some(match path_of(g) {
                Path::Cpu => cpu::avg_bwd(g, k, in_dims),
                Path::Gpu => gpu_or_reference(gpu::avg_bwd(g, k, in_dims), || {
                    reference::avg_bwd(g, k, in_dims)
                })?,
                Path::Reference => reference::avg_bwd(g, k, in_dims),
            })])
        }),
    )
}

/// Geometry of a max pool.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MaxGeom {
    pub k: usize,
    pub s: usize,
    pub p: usize,
    pub h: usize,
    pub w: usize,
    pub ho: usize,
    pub wo: usize,
}

/// Max pooling (ResNet's stem uses k = 3, s = 2, p = 1). Ties go to the first maximum in
/// row-major window order; NaN wins (propagates) as in PyTorch.
pub fn max_pool2d(x: &Tensor, k: usize, s: usize, p: usize) -> Result<Tensor> {
    require_float("max_pool2d", x)?;
    let (n, c, h, w) = x.shape().dims4("max_pool2d")?;
    if k == 0 || s == 0 || 2 * p > k || h + 2 * p < k || w + 2 * p < k {
        return Err(Error::Shape(format!(
            "max_pool2d: kernel {k}, stride {s}, padding {p} do not fit input {} (padding may be \
             at most half the kernel)",
            x.shape()
        )));
    }
    let geo = MaxGeom {
        k,
        s,
        p,
        h,
        w,
        ho: (h + 2 * p - k) / s + 1,
        wo: (w + 2 * p - k) / s + 1,
    };
    let host = |(y, a): (Tensor, Vec<u32>)| (y, Argmax::Host(a));
    let (y, argmax) = match path_of(x) {
        Path::Cpu => host(cpu::max_fwd(x, &geo)),
        Path::Gpu => gpu_or_reference(
            gpu::max_fwd(x, &geo).map(|r| r.map(|(y, a)| (y, Argmax::Device(a)))),
            || host(reference::max_fwd(x, &geo)),
        )?,
        Path::Reference => host(reference::max_fwd(x, &geo)),
    };
    if !any_tracked(&[x]) {
        return Ok(y);
    }
    let in_dims = [n, c, h, w];
    record(
        "max_pool2d",
        &[x],
        y,
        Box::new(move |g, _| {
            Ok(vec![Some(match (&argmax, path_of(g)) {
                (Argmax::Device(a), _) => gpu::max_bwd(g, a, &geo, in_dims)?,
                (Argmax::Host(a), Path::Cpu) => cpu::max_bwd(g, a, &geo, in_dims),
                (Argmax::Host(a), _) => reference::max_bwd(g, a, &geo, in_dims),
            })])
        }),
    )
}

/// The winners of a max pool, kept for backward: each window's index within its plane.
enum Argmax {
    Host(Vec<u32>),
    /// int32, in the device memory of the GPU path.
    Device(crate::gpu::DevBuf),
}
