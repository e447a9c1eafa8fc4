//! Sums on the CUDA kernels (kernels/reduce.cu): one deterministic launch per reduced axis.
//! `sum_axis` (owned here) also serves the losses and the optimizer's finiteness check.

use super::Plan;
use crate::gpu::grid::{blocks, i32_dim, need, BLOCK};
use crate::gpu::{kernel_params, Args, DevBuf, Gpu};
use crate::ops::elementwise::gpu::{binary, unary, zeros};
use crate::ops::elementwise::{Binary, Unary};
use crate::{Result, Shape, Tensor};

kernel_params! {
    /// `ReduceParams` of kernels/reduce.cu.
    pub(crate) struct ReduceParams = "ReduceParams" {
        pub outer: i64,
        pub mid: i64,
        pub inner: i64,
        pub scale: f32,
        pub pad_: i32,
    }
}

pub(super) fn sum(t: &Tensor, plan: &Plan) -> Option<Result<Tensor>> {
    Some((|| {
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
            sum_axis(&gpu, &cur, &out, [outer, dims[i], inner], 1.0)?;
            (cur, dims[i], launched) = (out, 1, true);
        }
        if !launched {
            // Only size-1 axes: a copy, so the result never shares the input's storage.
            let out = gpu.alloc_f32(cur.len())?;
            unary(&gpu, Unary::MulScalar(1.0), &cur, &out, cur.len())?;
            cur = out;
        }
        Tensor::from_dev(cur, plan.kept_shape(), t.device())
    })())
}

/// `t` broadcast to `shape`: t + zeros(shape), with broadcasting.
pub(super) fn broadcast_to(t: &Tensor, shape: &Shape) -> Option<Result<Tensor>> {
    Some((|| {
        let tb = t.dev()?;
        let gpu = tb.gpu();
        let y = gpu.alloc_f32(shape.numel())?;
        let z = zeros(gpu, shape.numel())?;
        binary(gpu, Binary::Add, (&tb, t.dims()), (&z, shape.dims()), &y)?;
        Tensor::from_dev(y, shape.clone(), t.device())
    })())
}

/// The shortest row summed by a whole block (reduce_rows); shorter ones take a thread each.
const ROW_KERNEL_MIN: usize = 256;
/// Rows of at least two chunks, in at most this many rows, are summed in two passes
/// (reduce_rows_split, then reduce_rows over the chunks' partials).
const SPLIT_CHUNK: usize = 8192;
const SPLIT_MAX_ROWS: usize = 64;

/// y[o, i] = scale · Σ_m x[o, m, i]: a sum over the middle axis of x viewed as
/// [outer, mid, inner]. Deterministic (fixed order per output).
pub(crate) fn sum_axis(
    g: &Gpu,
    x: &DevBuf,
    y: &DevBuf,
    [outer, mid, inner]: [usize; 3],
    scale: f32,
) -> Result<()> {
    need("reduce x", x, outer * mid * inner)?;
    need("reduce y", y, outer * inner)?;
    let p = ReduceParams {
        outer: outer as i64,
        mid: mid as i64,
        inner: inner as i64,
        scale,
        pad_: 0,
    };
    let mut a = Args::new();
    a.buf(x).buf(y).params(&p);
    // Long rows in few of them: a grid of blocks per row, then their partials in order.
    if inner == 1 && mid >= 2 * SPLIT_CHUNK && outer <= SPLIT_MAX_ROWS {
        let chunks = mid.div_ceil(SPLIT_CHUNK);
        let ws = g.alloc_f32(outer * chunks)?;
        let mut first = Args::new();
        first.buf(x).buf(&ws).params(&p).i64(SPLIT_CHUNK as i64);
        let grid = [i32_dim(chunks)? as u32, outer as u32, 1];
        g.launch("reduce_rows_split_f32", grid, BLOCK, 0, &mut first)?;
        return sum_axis(g, &ws, y, [outer, chunks, 1], scale);
    }
    // A block per row pays off for long rows; short rows (a batch norm's 2-value planes, the
    // last axis of a [65536, 2] tensor) take a thread each, like the strided sums.
    if inner == 1 && mid >= ROW_KERNEL_MIN {
        let grid = [outer.clamp(1, 65535) as u32, 1, 1];
        g.launch("reduce_rows_f32", grid, BLOCK, 0, &mut a)
    } else {
        g.launch("reduce_mid_f32", blocks(outer * inner), BLOCK, 0, &mut a)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameter_struct_mirrors_reduce_cu() {
        crate::gpu::check_mirror::<super::ReduceParams>().unwrap();
    }
}
