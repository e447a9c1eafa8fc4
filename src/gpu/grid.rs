//! Launch-geometry helpers shared by every family's launchers: the block size, grid-stride
//! grids, per-plane grids, GEMM tile grids, and the size checks that run before a launch.

use super::DevBuf;
use crate::{Error, Result};

/// Threads per block of every kernel (each declares `__launch_bounds__(256)`).
pub const THREADS: u32 = 256;

/// `[THREADS, 1, 1]`.
pub const BLOCK: [u32; 3] = [THREADS, 1, 1];

/// Blocks for a grid-stride loop over n elements.
pub fn blocks(n: usize) -> [u32; 3] {
    [n.div_ceil(THREADS as usize).clamp(1, 4096) as u32, 1, 1]
}

/// Grid (blocks over a plane of `hw` values, `planes`) for per-plane kernels.
pub fn plane_grid(planes: usize, hw: usize) -> Result<[u32; 3]> {
    if planes > 65535 || hw > i32::MAX as usize {
        return Err(Error::Shape(format!(
            "{planes} planes of {hw} values exceed the per-plane kernels' grid (65535 planes)"
        )));
    }
    Ok([
        hw.div_ceil(THREADS as usize).clamp(1, 64) as u32,
        planes as u32,
        1,
    ])
}

/// Grid of a tiled GEMM: N / BN × M / BM tiles, `z` slices.
pub fn tile_grid(m: usize, n: usize, (bm, bn): (usize, usize), z: usize) -> Result<[u32; 3]> {
    let (gx, gy) = (n.div_ceil(bn), m.div_ceil(bm));
    if gy > 65535 || z > 65535 || gx > i32::MAX as usize {
        return Err(Error::Shape(format!(
            "GEMM of {m}×{n} is too large for one launch"
        )));
    }
    Ok([gx as u32, gy as u32, z as u32])
}

/// Errors unless `b` holds at least `n` values.
pub fn need(what: &str, b: &DevBuf, n: usize) -> Result<()> {
    if b.len() < n {
        return Err(Error::Shape(format!(
            "{what}: device buffer of {} values, {n} needed",
            b.len()
        )));
    }
    Ok(())
}

/// `v` as the kernels' `int`, or a shape error.
pub fn i32_dim(v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::Shape(format!("{v} exceeds the kernels' int range")))
}
