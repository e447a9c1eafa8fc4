//! Sums on the CUDA kernels (kernels/reduce.cu): one deterministic launch per reduced axis.

use super::Plan;
use crate::gpu::kernels as k;
use crate::ops::Unary;
use crate::{Result, Shape, Tensor};

pub(super) fn sum(t: &Tensor, plan: &Plan) -> Result<Tensor> {
    let mut cur = t.dev()?;
    let gpu = cur.gpu().clone();
    let mut dims = plan.dims.clone();
    let mut launched = false;
    for i in (0..dims.len()).rev() {
        if !plan.reduced[i] || dims[i] == 1 {
            continue;
        }
        let outer: usize = dims[..i].iter().product();
        let inner: usize = dims[i + 1..].iter().product();
        let out = gpu.alloc_f32(outer * inner)?;
        k::reduce(&gpu, &cur, &out, [outer, dims[i], inner], 1.0)?;
        (cur, dims[i], launched) = (out, 1, true);
    }
    if !launched {
        // Only size-1 axes: a copy, so the result never shares the input's storage.
        let out = gpu.alloc_f32(cur.len())?;
        k::unary_fwd(&gpu, Unary::MulScalar(1.0), &cur, &out, cur.len())?;
        cur = out;
    }
    Tensor::from_dev(cur, plan.kept_shape(), t.device())
}

/// `t` broadcast to `shape`: t + zeros(shape), with broadcasting.
pub(super) fn broadcast_to(t: &Tensor, shape: &Shape) -> Result<Tensor> {
    let tb = t.dev()?;
    let gpu = tb.gpu();
    let (y, z) = (gpu.alloc_f32(shape.numel())?, gpu.alloc_f32(shape.numel())?);
    k::fill(gpu, &z, shape.numel(), 0.0)?;
    k::binary(
        gpu,
        k::BinaryOp::Add,
        (&tb, t.dims()),
        (&z, shape.dims()),
        &y,
    )?;
    Tensor::from_dev(y, shape.clone(), t.device())
}
