//! Pooling on the CUDA kernels (kernels/pool.cu). Max pooling keeps its argmax (the winner's
//! index within its plane, int32) on the device for backward.

use super::MaxGeom;
use crate::autograd::record;
use crate::gpu::kernels as k;
use crate::ops::any_tracked;
use crate::{Result, Tensor};

pub(super) fn avg_fwd(x: &Tensor, kk: usize, ho: usize, wo: usize) -> Result<Tensor> {
    let xb = x.dev()?;
    let d = x.dims();
    let planes = d[0] * d[1];
    let y = xb.gpu().alloc_f32(planes * ho * wo)?;
    k::avg_pool_fwd(xb.gpu(), &xb, &y, planes, [d[2], d[3]], kk)?;
    Tensor::from_dev(y, vec![d[0], d[1], ho, wo], x.device())
}

pub(super) fn avg_bwd(g: &Tensor, kk: usize, in_dims: [usize; 4]) -> Result<Tensor> {
    let gb = g.dev()?;
    let planes = in_dims[0] * in_dims[1];
    let n = in_dims.iter().product();
    let gx = gb.gpu().alloc_f32(n)?;
    k::fill(gb.gpu(), &gx, n, 0.0)?;
    k::avg_pool_bwd(gb.gpu(), &gb, &gx, planes, [in_dims[2], in_dims[3]], kk)?;
    Tensor::from_dev(gx, in_dims.to_vec(), g.device())
}

pub(super) fn max_pool(x: &Tensor, m: &MaxGeom) -> Result<Tensor> {
    let xb = x.dev()?;
    let gpu = xb.gpu().clone();
    let d = x.dims();
    let (planes, in_dims) = (d[0] * d[1], [d[0], d[1], d[2], d[3]]);
    let (y, arg) = (
        gpu.alloc_f32(planes * m.ho * m.wo)?,
        gpu.alloc_f32(planes * m.ho * m.wo)?,
    );
    k::max_pool_fwd(&gpu, &xb, &y, &arg, planes, [m.h, m.w], [m.k, m.s, m.p])?;
    let dev = x.device();
    let y = Tensor::from_dev(y, vec![d[0], d[1], m.ho, m.wo], dev)?;
    if !any_tracked(&[x]) {
        return Ok(y);
    }
    let m = *m;
    record(
        "max_pool2d",
        &[x],
        y,
        Box::new(move |g, _| {
            let gb = g.dev()?;
            let n = planes * m.h * m.w;
            let gx = gpu.alloc_f32(n)?;
            k::fill(&gpu, &gx, n, 0.0)?;
            k::max_pool_bwd(&gpu, &gb, &arg, &gx, planes, [m.h, m.w], [m.k, m.s, m.p])?;
            Ok(vec![Some(Tensor::from_dev(gx, in_dims.to_vec(), dev)?)])
        }),
    )
}
