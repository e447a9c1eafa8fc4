//! Resampling on the CUDA kernels (kernels/resample.cu): the Tensor adapter and the launchers.

use crate::gpu::grid::{blocks, i32_dim, need, BLOCK};
use crate::gpu::{kernel_params, Args};
use crate::ops::elementwise::gpu::zeros;
use crate::{Result, Tensor};

kernel_params! {
    /// `ResampleParams` of kernels/resample.cu.
    pub(crate) struct ResampleParams = "ResampleParams" {
        pub planes: i64,
        pub h: i32,
        pub w: i32,
        pub ho: i32,
        pub wo: i32,
        pub s: i32,
        pub align: i32,
    }
}

impl ResampleParams {
    /// NCHW input dims `d` resampled to ho × wo (nearest: factor `s`).
    fn new(d: &[usize], [ho, wo]: [usize; 2], s: usize, align: bool) -> Result<ResampleParams> {
        Ok(ResampleParams {
            planes: (d[0] * d[1]) as i64,
            h: i32_dim(d[2])?,
            w: i32_dim(d[3])?,
            ho: i32_dim(ho)?,
            wo: i32_dim(wo)?,
            s: i32_dim(s)?,
            align: align as i32,
        })
    }
    fn in_len(&self) -> usize {
        self.planes as usize * (self.h * self.w) as usize
    }
    fn out_len(&self) -> usize {
        self.planes as usize * self.ho as usize * self.wo as usize
    }
}

/// Forward: reads x (in_len), writes y (out_len); one output per thread.
fn forward(kernel: &str, x: &Tensor, p: ResampleParams) -> Result<Tensor> {
    let xb = x.dev()?;
    need(kernel, &xb, p.in_len())?;
    let y = xb.gpu().alloc_f32(p.out_len())?;
    let mut a = Args::new();
    a.buf(&xb).buf(&y).params(&p);
    xb.gpu()
        .launch(kernel, blocks(p.out_len()), BLOCK, 0, &mut a)?;
    let d = x.dims();
    Tensor::from_dev(
        y,
        vec![d[0], d[1], p.ho as usize, p.wo as usize],
        x.device(),
    )
}

/// Backward: gathers gy (out_len) into a zeroed gx (in_len); one input per thread.
fn backward(kernel: &str, g: &Tensor, in_dims: [usize; 4], p: ResampleParams) -> Result<Tensor> {
    let gb = g.dev()?;
    need(kernel, &gb, p.out_len())?;
    let gx = zeros(gb.gpu(), p.in_len())?;
    let mut a = Args::new();
    a.buf(&gb).buf(&gx).params(&p);
    gb.gpu()
        .launch(kernel, blocks(p.in_len()), BLOCK, 0, &mut a)?;
    Tensor::from_dev(gx, in_dims.to_vec(), g.device())
}

pub(super) fn nearest_fwd(x: &Tensor, s: usize) -> Option<Result<Tensor>> {
    let d = x.dims();
    Some(
        ResampleParams::new(d, [d[2] * s, d[3] * s], s, false)
            .and_then(|p| forward("upsample_nearest_fwd_f32", x, p)),
    )
}

pub(super) fn nearest_bwd(g: &Tensor, s: usize, in_dims: [usize; 4]) -> Option<Result<Tensor>> {
    let out = [in_dims[2] * s, in_dims[3] * s];
    Some(
        ResampleParams::new(&in_dims, out, s, false)
            .and_then(|p| backward("upsample_nearest_bwd_f32", g, in_dims, p)),
    )
}

pub(super) fn bilinear_fwd(x: &Tensor, oh: usize, ow: usize, ac: bool) -> Option<Result<Tensor>> {
    Some(
        ResampleParams::new(x.dims(), [oh, ow], 1, ac)
            .and_then(|p| forward("bilinear_fwd_f32", x, p)),
    )
}

pub(super) fn bilinear_bwd(g: &Tensor, in_dims: [usize; 4], ac: bool) -> Option<Result<Tensor>> {
    let out = [g.dims()[2], g.dims()[3]];
    Some(
        ResampleParams::new(&in_dims, out, 1, ac)
            .and_then(|p| backward("bilinear_bwd_f32", g, in_dims, p)),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameter_struct_mirrors_resample_cu() {
        crate::gpu::check_mirror::<super::ResampleParams>().unwrap();
    }
}
