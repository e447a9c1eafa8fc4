//! Resampling of NCHW planes: nearest upsampling by an integer factor (the synthetic
//! generator's `UpsamplingNearest2d(2)`), and bilinear resizing to any size with PyTorch's
//! `align_corners` true (TUH's `UpsamplingBilinear2d`) or false (LayerCAM, the FID resize).
//! Backward of both accumulates: every input pixel receives the sum of the gradients of the
//! outputs it fed.

mod cpu;
mod gpu;
mod reference;

use super::{any_tracked, gpu_or_reference, path_of, require_float, Path};
use crate::autograd::record;
use crate::{Error, Result, Tensor};

/// Nearest-neighbour upsampling by an integer factor.
pub fn upsample_nearest(x: &Tensor, scale: usize) -> Result<Tensor> {
    require_float("upsample_nearest", x)?;
    let (n, c, h, w) = x.shape().dims4("upsample_nearest")?;
    if scale == 0 {
        return Err(Error::Invalid(
            "upsample_nearest: scale must be at least 1".into(),
        ));
    }
    let y = match path_of(x) {
        Path::Cpu => cpu::nearest_fwd(x, scale),
        Path::Gpu => gpu_or_reference(gpu::nearest_fwd(x, scale), || {
            reference::nearest_fwd(x, scale)
        })?,
        Path::Reference => reference::nearest_fwd(x, scale),
    };
    if !any_tracked(&[x]) {
        return Ok(y);
    }
    record(
        "upsample_nearest",
        &[x],
        y,
        Box::new(move |g, _| {
            Ok(vec![Some(match path_of(g) {
                Path::Cpu => cpu::nearest_bwd(g, scale, [n, c, h, w]),
                Path::Gpu => gpu_or_reference(gpu::nearest_bwd(g, scale, [n, c, h, w]), || {
                    reference::nearest_bwd(g, scale, [n, c, h, w])
                })?,
                Path::Reference => reference::nearest_bwd(g, scale, [n, c, h, w]),
            })])
        }),
    )
}

/// Source coordinate of output index `o` along an axis of `inp` → `out` samples:
/// (lower index, upper index, weight of the upper one). PyTorch's conventions.
#[inline]
pub(crate) fn bilinear_src(
    o: usize,
    inp: usize,
    out: usize,
    align_corners: bool,
) -> (usize, usize, f64) {
    let src = if align_corners {
        if out > 1 {
            o as f64 * (inp - 1) as f64 / (out - 1) as f64
        } else {
            0.0
        }
    } else {
        ((o as f64 + 0.5) * inp as f64 / out as f64 - 0.5).max(0.0)
    };
    let i0 = (src.floor() as usize).min(inp - 1);
    let i1 = (i0 + 1).min(inp - 1);
    (i0, i1, src - i0 as f64)
}

/// Bilinear resize of each plane to `out_h × out_w`.
pub fn resize_bilinear(
    x: &Tensor,
    out_h: usize,
    out_w: usize,
    align_corners: bool,
) -> Result<Tensor> {
    require_float("resize_bilinear", x)?;
    let (n, c, h, w) = x.shape().dims4("resize_bilinear")?;
    if out_h == 0 || out_w == 0 {
        return Err(Error::Shape(format!(
            "resize_bilinear: output size {out_h}×{out_w} is empty"
        )));
    }
    let y = match path_of(x) {
        Path::Cpu => cpu::bilinear_fwd(x, out_h, out_w, align_corners),
        Path::Gpu => gpu_or_reference(gpu::bilinear_fwd(x, out_h, out_w, align_corners), || {
            reference::bilinear_fwd(x, out_h, out_w, align_corners)
        })?,
        Path::Reference => reference::bilinear_fwd(x, out_h, out_w, align_corners),
    };
    if !any_tracked(&[x]) {
        return Ok(y);
    }
    record(
        "resize_bilinear",
        &[x],
        y,
        Box::new(move |g, _| {
            Ok(vec![Some(match path_of(g) {
                Path::Cpu => cpu::bilinear_bwd(g, [n, c, h, w], align_corners),
                Path::Gpu => {
                    gpu_or_reference(gpu::bilinear_bwd(g, [n, c, h, w], align_corners), || {
                        reference::bilinear_bwd(g, [n, c, h, w], align_corners)
                    })?
                }
                Path::Reference => reference::bilinear_bwd(g, [n, c, h, w], align_corners),
            })])
        }),
    )
}
