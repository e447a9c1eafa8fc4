//! Resampling on the CUDA kernels (kernels/resample.cu).

use crate::gpu::kernels as k;
use crate::{Result, Tensor};

fn nchw(d: &[usize]) -> (usize, [usize; 2]) {
    (d[0] * d[1], [d[2], d[3]])
}

pub(super) fn nearest_fwd(x: &Tensor, s: usize) -> Result<Tensor> {
    let xb = x.dev()?;
    let (planes, hw) = nchw(x.dims());
    let y = xb.gpu().alloc_f32(x.numel() * s * s)?;
    k::upsample_nearest_fwd(xb.gpu(), &xb, &y, planes, hw, s)?;
    let d = x.dims();
    Tensor::from_dev(y, vec![d[0], d[1], d[2] * s, d[3] * s], x.device())
}

pub(super) fn nearest_bwd(g: &Tensor, s: usize, in_dims: [usize; 4]) -> Result<Tensor> {
    let gb = g.dev()?;
    let (planes, hw) = nchw(&in_dims);
    let n = in_dims.iter().product();
    let gx = gb.gpu().alloc_f32(n)?;
    k::fill(gb.gpu(), &gx, n, 0.0)?;
    k::upsample_nearest_bwd(gb.gpu(), &gb, &gx, planes, hw, s)?;
    Tensor::from_dev(gx, in_dims.to_vec(), g.device())
}

pub(super) fn bilinear_fwd(x: &Tensor, oh: usize, ow: usize, ac: bool) -> Result<Tensor> {
    let xb = x.dev()?;
    let (planes, hw) = nchw(x.dims());
    let y = xb.gpu().alloc_f32(planes * oh * ow)?;
    k::bilinear_fwd(xb.gpu(), &xb, &y, planes, hw, [oh, ow], ac)?;
    let d = x.dims();
    Tensor::from_dev(y, vec![d[0], d[1], oh, ow], x.device())
}

pub(super) fn bilinear_bwd(g: &Tensor, in_dims: [usize; 4], ac: bool) -> Result<Tensor> {
    let gb = g.dev()?;
    let (planes, hw) = nchw(&in_dims);
    let n = in_dims.iter().product();
    let gx = gb.gpu().alloc_f32(n)?;
    k::fill(gb.gpu(), &gx, n, 0.0)?;
    k::bilinear_bwd(
        gb.gpu(),
        &gb,
        &gx,
        planes,
        hw,
        [g.dims()[2], g.dims()[3]],
        ac,
    )?;
    Tensor::from_dev(gx, in_dims.to_vec(), g.device())
}
