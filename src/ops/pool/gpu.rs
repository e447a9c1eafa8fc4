//! Pooling on the CUDA kernels (kernels/pool.cu): the Tensor adapter and the launchers. Max
//! pooling keeps its argmax (the winner's index within its plane, int32) on the device for
//! backward.

use super::MaxGeom;
use crate::gpu::grid::{blocks, i32_dim, need, BLOCK};
use crate::gpu::{kernel_params, Args, DevBuf};
use crate::ops::elementwise::gpu::zeros;
use crate::{Result, Tensor};

kernel_params! {
    /// `PoolParams` of kernels/pool.cu.
    pub(crate) struct PoolParams = "PoolParams" {
        pub planes: i64,
        pub h: i32,
        pub w: i32,
        pub ho: i32,
        pub wo: i32,
        pub k: i32,
        pub s: i32,
        pub p: i32,
        pub pad_: i32,
    }
}

impl PoolParams {
    fn new(in_dims: &[usize], m: &MaxGeom) -> Result<PoolParams> {
        Ok(PoolParams {
            planes: (in_dims[0] * in_dims[1]) as i64,
            h: i32_dim(m.h)?,
            w: i32_dim(m.w)?,
            ho: i32_dim(m.ho)?,
            wo: i32_dim(m.wo)?,
            k: i32_dim(m.k)?,
            s: i32_dim(m.s)?,
            p: i32_dim(m.p)?,
            pad_: 0,
        })
    }
    /// Average pooling: window = stride = k, no padding.
    fn avg(in_dims: &[usize], k: usize) -> Result<PoolParams> {
        let (h, w) = (in_dims[2], in_dims[3]);
        let m = MaxGeom {
            k,
            s: k,
            p: 0,
            h,
            w,
            ho: h / k,
            wo: w / k,
        };
        PoolParams::new(in_dims, &m)
    }
    fn in_len(&self) -> usize {
        self.planes as usize * (self.h * self.w) as usize
    }
    fn out_len(&self) -> usize {
        self.planes as usize * (self.ho * self.wo) as usize
    }
}

pub(super) fn avg_fwd(x: &Tensor, k: usize) -> Option<Result<Tensor>> {
    Some((|| {
        let p = PoolParams::avg(x.dims(), k)?;
        let xb = x.dev()?;
        need("avg_pool x", &xb, p.in_len())?;
        let y = xb.gpu().alloc_f32(p.out_len())?;
        let mut a = Args::new();
        a.buf(&xb).buf(&y).params(&p);
        xb.gpu()
            .launch("avg_pool_fwd_f32", blocks(p.out_len()), BLOCK, 0, &mut a)?;
        let d = x.dims();
        let dims = vec![d[0], d[1], p.ho as usize, p.wo as usize];
        Tensor::from_dev(y, dims, x.device())
    })())
}

pub(super) fn avg_bwd(g: &Tensor, k: usize, in_dims: [usize; 4]) -> Option<Result<Tensor>> {
    Some((|| {
        let p = PoolParams::avg(&in_dims, k)?;
        let gb = g.dev()?;
        need("avg_pool gy", &gb, p.out_len())?;
        let gx = zeros(gb.gpu(), p.in_len())?;
        let mut a = Args::new();
        a.buf(&gb).buf(&gx).params(&p);
        gb.gpu()
            .launch("avg_pool_bwd_f32", blocks(p.in_len()), BLOCK, 0, &mut a)?;
        Tensor::from_dev(gx, in_dims.to_vec(), g.device())
    })())
}

/// Max pooling: the output and the winners (int32, in device memory).
pub(super) fn max_fwd(x: &Tensor, m: &MaxGeom) -> Option<Result<(Tensor, DevBuf)>> {
    Some((|| {
        let p = PoolParams::new(x.dims(), m)?;
        let xb = x.dev()?;
        let gpu = xb.gpu();
        need("max_pool x", &xb, p.in_len())?;
        let (y, arg) = (gpu.alloc_f32(p.out_len())?, gpu.alloc_f32(p.out_len())?);
        let mut a = Args::new();
        a.buf(&xb).buf(&y).buf(&arg).params(&p);
        gpu.launch("max_pool_fwd_f32", blocks(p.out_len()), BLOCK, 0, &mut a)?;
        let d = x.dims();
        let y = Tensor::from_dev(y, vec![d[0], d[1], m.ho, m.wo], x.device())?;
        Ok((y, arg))
    })())
}

/// gx = max pooling's input gradient: each window's gradient to its winner.
pub(super) fn max_bwd(
    g: &Tensor,
    arg: &DevBuf,
    m: &MaxGeom,
    in_dims: [usize; 4],
) -> Result<Tensor> {
    let p = PoolParams::new(&in_dims, m)?;
    let gb = g.dev()?;
    need("max_pool gy", &gb, p.out_len())?;
    need("max_pool argmax", arg, p.out_len())?;
    let gx = zeros(gb.gpu(), p.in_len())?;
    let mut a = Args::new();
    a.buf(&gb).buf(arg).buf(&gx).params(&p);
    gb.gpu()
        .launch("max_pool_bwd_f32", blocks(p.in_len()), BLOCK, 0, &mut a)?;
    Tensor::from_dev(gx, in_dims.to_vec(), g.device())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameter_struct_mirrors_pool_cu() {
        crate::gpu::check_mirror::<super::PoolParams>().unwrap();
    }
}
