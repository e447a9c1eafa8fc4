//! Launch-geometry helpers shared by every family's launchers: the block size, grid-stride
//! grids, GEMM tile grids, the hardware's launch limits, and the size checks that run before a
//! launch.

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

/// The hardware's launch limits (every CUDA GPU since sm_30).
pub const MAX_BLOCK_XY: u32 = 1024;
pub const MAX_BLOCK_Z: u32 = 64;
pub const MAX_GRID_X: u32 = i32::MAX as u32;
pub const MAX_GRID_YZ: u32 = 65_535;

/// Errors unless a launch of kernel `name` (declared `__launch_bounds__(max_threads)`) with
/// `grid` × `block` is one the hardware runs: no zero dimension, block x, y ≤ 1024, z ≤ 64,
/// x·y·z ≤ max_threads; grid x < 2³¹, y, z ≤ 65,535. Both devices check it, so the emulator
/// refuses what a GPU would.
pub fn check_launch(name: &str, grid: [u32; 3], block: [u32; 3], max_threads: u32) -> Result<()> {
    let threads = block.iter().map(|&b| b as u64).product::<u64>();
    let bad = if grid.contains(&0) || block.contains(&0) {
        Some("a zero dimension".to_string())
    } else if block[0] > MAX_BLOCK_XY || block[1] > MAX_BLOCK_XY || block[2] > MAX_BLOCK_Z {
        Some("a block past 1024 × 1024 × 64".to_string())
    } else if threads > max_threads as u64 {
        Some(format!(
            "{threads} threads per block, past its __launch_bounds__({max_threads})"
        ))
    } else if grid[0] > MAX_GRID_X || grid[1] > MAX_GRID_YZ || grid[2] > MAX_GRID_YZ {
        Some("a grid past 2³¹−1 × 65,535 × 65,535".to_string())
    } else {
        None
    };
    match bad {
        Some(why) => Err(Error::Invalid(format!(
            "launch of {name} with grid {grid:?} and block {block:?}: {why}"
        ))),
        None => Ok(()),
    }
}

/// Grid of a tiled GEMM: N / BN × M / BM tiles, `z` slices.
pub fn tile_grid(m: usize, n: usize, (bm, bn): (usize, usize), z: usize) -> Result<[u32; 3]> {
    let (gx, gy) = (n.div_ceil(bn), m.div_ceil(bm));
    if gy > MAX_GRID_YZ as usize || z > MAX_GRID_YZ as usize || gx > MAX_GRID_X as usize {
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
