//! Convolution on the CUDA kernels (kernels/conv2d.cu). The kernels take square kernels,
//! strides and paddings; other geometries return None and run on the reference loops.

use super::ConvGeom;
use crate::gpu::{kernels as k, ConvGeom as KGeom};
use crate::{Result, Tensor};

fn geom(g: &ConvGeom) -> Option<Result<KGeom>> {
    (g.kh == g.kw && g.sh == g.sw && g.ph == g.pw).then(|| {
        k::conv_geom(
            [g.n, g.cin, g.h, g.w],
            [g.cout, g.cin, g.kh, g.kw],
            g.sh,
            g.ph,
        )
    })
}

pub(super) fn forward(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    g: &ConvGeom,
) -> Option<Result<Tensor>> {
    let kg = geom(g)?;
    Some((|| {
        let kg = kg?;
        let (xb, wb) = (x.dev()?, w.dev()?);
        let bb = b.map(|b| b.dev()).transpose()?;
        let y = xb.gpu().alloc_f32(g.n * g.cout * g.ho * g.wo)?;
        k::conv2d_fwd(xb.gpu(), &xb, &wb, bb.as_ref(), &y, &kg)?;
        Tensor::from_dev(y, g.out_dims().to_vec(), x.device())
    })())
}

pub(super) fn backward_data(gy: &Tensor, w: &Tensor, g: &ConvGeom) -> Option<Result<Tensor>> {
    let kg = geom(g)?;
    Some((|| {
        let kg = kg?;
        let (gb, wb) = (gy.dev()?, w.dev()?);
        let n = g.n * g.cin * g.h * g.w;
        let gx = gb.gpu().alloc_f32(n)?;
        k::fill(gb.gpu(), &gx, n, 0.0)?;
        k::conv2d_bwd_data(gb.gpu(), &wb, &gb, &gx, &kg)?;
        Tensor::from_dev(gx, vec![g.n, g.cin, g.h, g.w], gy.device())
    })())
}

pub(super) fn backward_weight(gy: &Tensor, x: &Tensor, g: &ConvGeom) -> Option<Result<Tensor>> {
    let kg = geom(g)?;
    Some((|| {
        let kg = kg?;
        let (gb, xb) = (gy.dev()?, x.dev()?);
        let gpu = gb.gpu();
        let n = g.cout * g.cin * g.kh * g.kw;
        let gw = gpu.alloc_f32(n)?;
        k::fill(gpu, &gw, n, 0.0)?;
        let ws = gpu.alloc_f32(k::conv2d_bwd_weight_workspace(&kg))?;
        k::conv2d_bwd_weight(gpu, &xb, &gb, &gw, &ws, &kg)?;
        Tensor::from_dev(gw, vec![g.cout, g.cin, g.kh, g.kw], gy.device())
    })())
}
