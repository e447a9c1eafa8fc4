//! Average pooling on the CUDA kernels (kernels/pool.cu). Max pooling keeps its argmax on the
//! host for the op's backward, so it runs on the reference loops for now.

use crate::gpu::kernels as k;
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
