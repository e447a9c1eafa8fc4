//! The optimizer ops on the CUDA kernels: the fused Adam update and the moving average
//! (kernels/optim.cu), gradient
//! accumulation (the shape family's block copy, accumulating) and the finiteness sum (the
//! reduce family's).

use super::AdamStep;
use crate::gpu::grid::{blocks, need, BLOCK};
use crate::gpu::{kernel_params, Args, DevBuf};
use crate::ops::reduce::gpu::sum_axis;
use crate::ops::shape::gpu::{copy_block, CopyParams};
use crate::{Result, Tensor};

kernel_params! {
    /// `AdamParams` of kernels/optim.cu.
    pub(crate) struct AdamParams = "AdamParams" {
        pub n: i64,
        pub lr: f32,
        pub b1: f32,
        pub b2: f32,
        pub eps: f32,
        pub wd: f32,
        pub step_size: f32,
        pub bc2_sqrt: f32,
        pub decoupled: i32,
    }
}

/// One fused Adam/AdamW step over the arena `p` with gradient and moments `[g, m, v]`.
pub(super) fn adam(p: &DevBuf, [g, m, v]: [&DevBuf; 3], h: &AdamStep) -> Result<()> {
    let n = p.len();
    for (w, b) in [("g", g), ("m", m), ("v", v)] {
        need(&format!("adam {w}"), b, n)?;
    }
    let (step_size, bc2_sqrt) = h.corrections();
    let hp = AdamParams {
        n: n as i64,
        lr: h.cfg.lr as f32,
        b1: h.cfg.beta1 as f32,
        b2: h.cfg.beta2 as f32,
        eps: h.cfg.eps as f32,
        wd: h.cfg.weight_decay as f32,
        step_size: step_size as f32,
        bc2_sqrt: bc2_sqrt as f32,
        decoupled: h.cfg.decoupled as i32,
    };
    let mut a = Args::new();
    a.buf(p).buf(g).buf(m).buf(v).params(&hp);
    p.gpu().launch("adam_f32", blocks(n), BLOCK, 0, &mut a)
}

/// `avg += w·(live − avg)` over the arena (the averaged copy's update).
pub(super) fn ema(avg: &DevBuf, live: &DevBuf, w: f32) -> Result<()> {
    let n = avg.len();
    need("ema live", live, n)?;
    let mut a = Args::new();
    a.buf(avg).buf(live).i64(n as i64).f32(w);
    avg.gpu().launch("ema_f32", blocks(n), BLOCK, 0, &mut a)
}

/// `dst += src` on the device.
pub(super) fn accumulate(dst: &DevBuf, src: &Tensor) -> Result<()> {
    let s = src.dev()?;
    copy_block(dst.gpu(), &s, dst, &CopyParams::accumulate_all(dst.len()))
}

/// The sum of `d`, one value read back.
pub(super) fn sum(d: &DevBuf) -> Result<f32> {
    let one = d.gpu().alloc_f32(1)?;
    sum_axis(d.gpu(), d, &one, [1, d.len(), 1], 1.0)?;
    Ok(d.gpu().download(&one)?[0])
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameter_struct_mirrors_optim_cu() {
        crate::gpu::check_mirror::<super::AdamParams>().unwrap();
    }
}
