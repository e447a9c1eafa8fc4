//! Matrix products on the CUDA kernels (kernels/linear.cu): the Tensor adapter and the GEMM
//! launcher.

use crate::gpu::grid::{blocks, i32_dim, need, tile_grid, BLOCK};
use crate::gpu::{kernel_params, Args};
use crate::{Result, Tensor};

kernel_params! {
    /// `GemmParams` of kernels/linear.cu.
    pub(crate) struct GemmParams = "GemmParams" {
        pub m: i32,
        pub n: i32,
        pub k: i32,
        pub ta: i32,
        pub tb: i32,
        pub beta: i32,
    }
}

/// `op(a) · op(b)` (op(a) m×k, op(b) k×n) into a new m×n tensor.
pub(super) fn mm(
    a: &Tensor,
    ta: bool,
    b: &Tensor,
    tb: bool,
    [m, n, k]: [usize; 3],
) -> Option<Result<Tensor>> {
    Some((|| {
        let (ab, bb) = (a.dev()?, b.dev()?);
        need("gemm a", &ab, m * k)?;
        need("gemm b", &bb, k * n)?;
        let c = ab.gpu().alloc_f32(m * n)?;
        let p = GemmParams {
            m: i32_dim(m)?,
            n: i32_dim(n)?,
            k: i32_dim(k)?,
            ta: ta as i32,
            tb: tb as i32,
            beta: 0,
        };
        let mut args = Args::new();
        args.buf(&ab).buf(&bb).null().buf(&c).params(&p);
        let gpu = ab.gpu();
        let grid = tile_grid(m, n, (64, 64), 1)?;
        // One row of A: a thread per output column (A is contiguous either way).
        if m == 1 {
            gpu.launch("gemv_f32", blocks(n), BLOCK, 0, &mut args)?;
            return Tensor::from_dev(c, vec![m, n], a.device());
        }
        // This thread's precision (`ops::precision`), FP32 on a device without tensor cores.
        let p = crate::ops::precision::gpu_precision()
            .1
            .on(gpu.tensor_cores());
        let name = format!("gemm_{}", p.kernel_suffix());
        gpu.launch(&name, grid, [128, 1, 1], 0, &mut args)?;
        Tensor::from_dev(c, vec![m, n], a.device())
    })())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameter_struct_mirrors_linear_cu() {
        crate::gpu::check_mirror::<super::GemmParams>().unwrap();
    }
}
