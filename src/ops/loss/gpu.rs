//! BCE with logits on the CUDA kernels (kernels/loss.cu): per-element terms, a deterministic
//! mean (the reduce family's sum), and a backward that reads the upstream gradient on the
//! device.

use crate::gpu::grid::{blocks, need, BLOCK};
use crate::gpu::{Args, DevBuf};
use crate::ops::elementwise::gpu::zeros;
use crate::ops::reduce::gpu::sum_axis;
use crate::{Result, Tensor};

pub(super) fn bce_forward(logits: &Tensor, targets: &Tensor) -> Option<Result<Tensor>> {
    Some((|| {
        let (zb, yb) = (logits.dev()?, targets.dev()?);
        let gpu = zb.gpu();
        let n = logits.numel();
        need("bce z", &zb, n)?;
        need("bce y", &yb, n)?;
        let (terms, out) = (gpu.alloc_f32(n)?, gpu.alloc_f32(1)?);
        let mut a = Args::new();
        a.buf(&zb).buf(&yb).buf(&terms).i64(n as i64);
        gpu.launch("bce_terms_f32", blocks(n), BLOCK, 0, &mut a)?;
        sum_axis(gpu, &terms, &out, [1, n, 1], 1.0 / n as f32)?;
        Tensor::from_dev(out, Vec::<usize>::new(), logits.device())
    })())
}

/// (dz, dy) as `needs` asks: dz = (σ(z) − y)·u/n, dy = −z·u/n, u read on the device.
pub(super) fn bce_backward(
    z: &Tensor,
    y: &Tensor,
    g: &Tensor,
    needs: &[bool],
) -> Option<Result<Vec<Option<Tensor>>>> {
    Some((|| {
        let (zb, yb, up) = (z.dev()?, y.dev()?, g.dev()?);
        let gpu = zb.gpu();
        let n = z.numel();
        need("bce z", &zb, n)?;
        need("bce y", &yb, n)?;
        need("bce upstream", &up, 1)?;
        let zero = |b: bool| b.then(|| zeros(gpu, n)).transpose();
        let (dz, dy) = (zero(needs[0])?, zero(needs[1])?);
        let mut a = Args::new();
        a.buf(&zb)
            .buf(&yb)
            .opt(dz.as_ref())
            .opt(dy.as_ref())
            .buf(&up)
            .i64(n as i64)
            .f32(1.0 / n as f32);
        gpu.launch("bce_bwd_f32", blocks(n), BLOCK, 0, &mut a)?;
        let wrap = |d: Option<DevBuf>| {
            d.map(|d| Tensor::from_dev(d, z.shape().clone(), z.device()))
                .transpose()
        };
        Ok(vec![wrap(dz)?, wrap(dy)?])
    })())
}
