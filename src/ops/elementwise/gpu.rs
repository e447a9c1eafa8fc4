//! Elementwise ops on the CUDA kernels (kernels/elementwise.cu).

use super::{Binary, Unary};
use crate::gpu::kernels::{self as k, BinaryOp};
use crate::{Result, Shape, Tensor};

pub(super) fn unary_fwd(x: &Tensor, op: Unary) -> Result<Tensor> {
    let xb = x.dev()?;
    let y = xb.gpu().alloc_f32(x.numel())?;
    k::unary_fwd(xb.gpu(), op, &xb, &y, x.numel())?;
    Tensor::from_dev(y, x.shape().clone(), x.device())
}

pub(super) fn unary_bwd(x: &Tensor, y: &Tensor, g: &Tensor, op: Unary) -> Result<Tensor> {
    let (xb, yb, gb) = (x.dev()?, y.dev()?, g.dev()?);
    let gpu = xb.gpu();
    let gx = gpu.alloc_f32(x.numel())?;
    k::fill(gpu, &gx, x.numel(), 0.0)?;
    k::unary_bwd(gpu, op, &xb, &yb, &gb, &gx, x.numel())?;
    Tensor::from_dev(gx, x.shape().clone(), x.device())
}

pub(super) fn binary_fwd(a: &Tensor, b: &Tensor, out: &Shape, op: Binary) -> Result<Tensor> {
    let (ab, bb) = (a.dev()?, b.dev()?);
    let y = ab.gpu().alloc_f32(out.numel())?;
    let code = match op {
        Binary::Add => BinaryOp::Add,
        Binary::Sub => BinaryOp::Sub,
        Binary::Mul => BinaryOp::Mul,
        Binary::Div => BinaryOp::Div,
        Binary::Max => BinaryOp::Maximum,
        Binary::Min => BinaryOp::Minimum,
    };
    k::binary(ab.gpu(), code, (&ab, a.dims()), (&bb, b.dims()), &y)?;
    Tensor::from_dev(y, out.clone(), a.device())
}
