//! Block copies on the CUDA kernels (kernels/shape.cu) for narrow, its backward and cat. The
//! launcher [`copy_block`] (owned here) also serves the optimizer's gradient accumulation.

use super::blocks as axis_blocks;
use crate::gpu::grid::{blocks, need, BLOCK};
use crate::gpu::{kernel_params, Args, DevBuf, Gpu};
use crate::ops::elementwise::gpu::zeros;
use crate::{Error, Result, Shape, Tensor};

kernel_params! {
    /// `CopyParams` of kernels/shape.cu: both tensors viewed as [outer, mid, inner],
    /// dst[o, dst_off + m, i] (=|+=) src[o, src_off + m, i] for m < len.
    pub(crate) struct CopyParams = "CopyParams" {
        pub outer: i64,
        pub src_mid: i64,
        pub dst_mid: i64,
        pub src_off: i64,
        pub dst_off: i64,
        pub len: i64,
        pub inner: i64,
        pub accumulate: i32,
        pub pad_: i32,
    }
}

impl CopyParams {
    /// Rows `src_off..src_off + len` of a `[outer, src_mid, inner]` view into rows
    /// `dst_off..` of a `[outer, dst_mid, inner]` view.
    pub(crate) fn rows(
        outer: usize,
        [src_mid, src_off]: [usize; 2],
        [dst_mid, dst_off]: [usize; 2],
        [len, inner]: [usize; 2],
    ) -> CopyParams {
        let i = |v: usize| v as i64;
        CopyParams {
            outer: i(outer),
            src_mid: i(src_mid),
            dst_mid: i(dst_mid),
            src_off: i(src_off),
            dst_off: i(dst_off),
            len: i(len),
            inner: i(inner),
            accumulate: 0,
            pad_: 0,
        }
    }
    /// dst += src over n values.
    pub(crate) fn accumulate_all(n: usize) -> CopyParams {
        CopyParams {
            accumulate: 1,
            ..CopyParams::rows(1, [n, 0], [n, 0], [n, 1])
        }
    }
}

/// The block copy of `p` from `src` into `dst`.
pub(crate) fn copy_block(g: &Gpu, src: &DevBuf, dst: &DevBuf, p: &CopyParams) -> Result<()> {
    if p.src_off + p.len > p.src_mid || p.dst_off + p.len > p.dst_mid {
        return Err(Error::Shape(format!(
            "copy_block: {} rows from {} of {} into {} of {}",
            p.len, p.src_off, p.src_mid, p.dst_off, p.dst_mid
        )));
    }
    need("copy src", src, (p.outer * p.src_mid * p.inner) as usize)?;
    need("copy dst", dst, (p.outer * p.dst_mid * p.inner) as usize)?;
    let mut a = Args::new();
    a.buf(src).buf(dst).params(p);
    let n = (p.outer * p.len * p.inner) as usize;
    g.launch("copy_block_f32", blocks(n), BLOCK, 0, &mut a)
}

pub(super) fn narrow(
    t: &Tensor,
    axis: usize,
    start: usize,
    len: usize,
    out: &Shape,
) -> Option<Result<Tensor>> {
    Some((|| {
        let tb = t.dev()?;
        let (outer, d, inner) = axis_blocks(t.shape(), axis);
        let y = tb.gpu().alloc_f32(out.numel())?;
        let p = CopyParams::rows(outer, [d, start], [len, 0], [len, inner]);
        copy_block(tb.gpu(), &tb, &y, &p)?;
        Tensor::from_dev(y, out.clone(), t.device())
    })())
}

pub(super) fn unnarrow(
    g: &Tensor,
    axis: usize,
    start: usize,
    full: &Shape,
) -> Option<Result<Tensor>> {
    Some((|| {
        let gb = g.dev()?;
        let (outer, d, inner) = axis_blocks(full, axis);
        let y = zeros(gb.gpu(), full.numel())?;
        let len = g.dims()[axis];
        let p = CopyParams::rows(outer, [len, 0], [d, start], [len, inner]);
        copy_block(gb.gpu(), &gb, &y, &p)?;
        Tensor::from_dev(y, full.clone(), g.device())
    })())
}

pub(super) fn cat(ts: &[&Tensor], axis: usize, out: &Shape) -> Option<Result<Tensor>> {
    Some((|| {
        let (outer, d, inner) = axis_blocks(out, axis);
        let gpu = ts[0].dev()?.gpu().clone();
        let y = gpu.alloc_f32(out.numel())?;
        let mut start = 0;
        for t in ts {
            let len = t.dims()[axis];
            let p = CopyParams::rows(outer, [len, 0], [d, start], [len, inner]);
            copy_block(&gpu, &t.dev()?, &y, &p)?;
            start += len;
        }
        Tensor::from_dev(y, out.clone(), ts[0].device())
    })())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameter_struct_mirrors_shape_cu() {
        crate::gpu::check_mirror::<super::CopyParams>().unwrap();
    }
}
