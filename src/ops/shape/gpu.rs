//! Block copies on the CUDA kernels (kernels/copy.cu) for narrow, its backward and cat.

use super::blocks;
use crate::gpu::{kernels as k, DevBuf, Gpu};
use crate::{Result, Shape, Tensor};

pub(super) fn narrow(
    t: &Tensor,
    axis: usize,
    start: usize,
    len: usize,
    out: &Shape,
) -> Result<Tensor> {
    let tb = t.dev()?;
    let (outer, d, inner) = blocks(t.shape(), axis);
    let y = tb.gpu().alloc_f32(out.numel())?;
    k::copy_block(
        tb.gpu(),
        &tb,
        &y,
        outer,
        [d, start],
        [len, 0],
        len,
        inner,
        false,
    )?;
    Tensor::from_dev(y, out.clone(), t.device())
}

/// Copies `src` (blocks of `len × inner` per outer index) into rows `start .. start + len` of
/// the axis in `y` (blocks of `d × inner`).
#[allow(clippy::too_many_arguments)]
fn place(
    gpu: &Gpu,
    src: &DevBuf,
    y: &DevBuf,
    outer: usize,
    d: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Result<()> {
    k::copy_block(gpu, src, y, outer, [len, 0], [d, start], len, inner, false)
}

pub(super) fn unnarrow(g: &Tensor, axis: usize, start: usize, full: &Shape) -> Result<Tensor> {
    let gb = g.dev()?;
    let (outer, d, inner) = blocks(full, axis);
    let y = gb.gpu().alloc_f32(full.numel())?;
    k::fill(gb.gpu(), &y, full.numel(), 0.0)?;
    place(gb.gpu(), &gb, &y, outer, d, inner, start, g.dims()[axis])?;
    Tensor::from_dev(y, full.clone(), g.device())
}

pub(super) fn cat(ts: &[&Tensor], axis: usize, out: &Shape) -> Result<Tensor> {
    let (outer, d, inner) = blocks(out, axis);
    let gpu = ts[0].dev()?.gpu().clone();
    let y = gpu.alloc_f32(out.numel())?;
    let mut start = 0;
    for t in ts {
        let len = t.dims()[axis];
        place(&gpu, &t.dev()?, &y, outer, d, inner, start, len)?;
        start += len;
    }
    Tensor::from_dev(y, out.clone(), ts[0].device())
}
