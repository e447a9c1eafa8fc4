//! Convolution on the CUDA kernels (kernels/conv.cu): the Tensor adapter and the launchers
//! (the precision's kernel, split-K, argument packing). The kernels take square kernels, strides and
//! paddings; other geometries return None and run on the reference loops.

use super::ConvGeom;
use crate::gpu::grid::{blocks, i32_dim, need, tile_grid, BLOCK};
use crate::gpu::{kernel_params, Args, DevBuf, Gpu};
use crate::ops::elementwise::gpu::zeros;
use crate::{Result, Tensor};

kernel_params! {
    /// `ConvGeom` of kernels/conv.cu: the convolution's sizes as the kernels read them.
    pub(crate) struct KernelGeom = "ConvGeom" {
        pub n: i32,
        pub cin: i32,
        pub h: i32,
        pub w: i32,
        pub cout: i32,
        pub k: i32,
        pub stride: i32,
        pub pad: i32,
        pub ho: i32,
        pub wo: i32,
    }
}

impl KernelGeom {
    /// The kernels' view of `g`: None for a geometry they do not take (non-square kernel,
    /// stride or padding), an error for sizes past `int`.
    fn of(g: &ConvGeom) -> Option<Result<KernelGeom>> {
        (g.kh == g.kw && g.sh == g.sw && g.ph == g.pw).then(|| {
            // The kernels index a GEMM column (one output or input pixel of the batch) in int.
            let columns = (g.n * g.h * g.w).max(g.n * g.ho * g.wo);
            if columns > i32::MAX as usize {
                return Err(crate::Error::Shape(format!(
                    "conv2d on the GPU: {columns} pixels in the batch exceed the kernels' int \
                     index; split the batch"
                )));
            }
            Ok(KernelGeom {
                n: i32_dim(g.n)?,
                cin: i32_dim(g.cin)?,
                h: i32_dim(g.h)?,
                w: i32_dim(g.w)?,
                cout: i32_dim(g.cout)?,
                k: i32_dim(g.kh)?,
                stride: i32_dim(g.sh)?,
                pad: i32_dim(g.ph)?,
                ho: i32_dim(g.ho)?,
                wo: i32_dim(g.wo)?,
            })
        })
    }
    // Sizes in 64 bits: a product of the i32 fields overflows past 2³¹ elements.
    fn x_len(&self) -> usize {
        product(&[self.n, self.cin, self.h, self.w])
    }
    fn w_len(&self) -> usize {
        product(&[self.cout, self.cin, self.k, self.k])
    }
    fn y_len(&self) -> usize {
        product(&[self.n, self.cout, self.ho, self.wo])
    }
}

fn product(dims: &[i32]) -> usize {
    dims.iter().map(|&d| d as usize).product()
}

pub(super) fn forward(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    g: &ConvGeom,
) -> Option<Result<Tensor>> {
    let kg = KernelGeom::of(g)?;
    Some((|| {
        let kg = kg?;
        let (xb, wb) = (x.dev()?, w.dev()?);
        let bb = b.map(|b| b.dev()).transpose()?;
        let y = xb.gpu().alloc_f32(kg.y_len())?;
        launch_forward(xb.gpu(), &xb, &wb, bb.as_ref(), &y, &kg)?;
        Tensor::from_dev(y, g.out_dims().to_vec(), x.device())
    })())
}

pub(super) fn backward_data(gy: &Tensor, w: &Tensor, g: &ConvGeom) -> Option<Result<Tensor>> {
    let kg = KernelGeom::of(g)?;
    Some((|| {
        let kg = kg?;
        let (gb, wb) = (gy.dev()?, w.dev()?);
        let gx = zeros(gb.gpu(), kg.x_len())?;
        launch_backward_data(gb.gpu(), &wb, &gb, &gx, &kg)?;
        Tensor::from_dev(gx, vec![g.n, g.cin, g.h, g.w], gy.device())
    })())
}

pub(super) fn backward_weight(gy: &Tensor, x: &Tensor, g: &ConvGeom) -> Option<Result<Tensor>> {
    let kg = KernelGeom::of(g)?;
    Some((|| {
        let kg = kg?;
        let (gb, xb) = (gy.dev()?, x.dev()?);
        let gpu = gb.gpu();
        let gw = gpu.alloc_f32(kg.w_len())?;
        launch_backward_weight(gpu, &xb, &gb, &gw, &kg)?;
        Tensor::from_dev(gw, vec![g.cout, g.cin, g.kh, g.kw], gy.device())
    })())
}

/// The GEMM kernels' tile and block (kernels/gemm_tile.cuh).
const TILE: (usize, usize) = (64, 64);
const TILE_BLOCK: [u32; 3] = [128, 1, 1];
/// Blocks a launch should bring to fill a large GPU (132 SMs, a few blocks each).
const TARGET_BLOCKS: usize = 1024;
/// Shared memory the thin kernels may take for their weights (the default per-block limit).
const THIN_SMEM_FLOATS: usize = 12 * 1024;
/// The largest kernel side of conv2d_cout1_bwd_weight (THIN_KMAX of kernels/conv.cu).
const THIN_KMAX: i32 = 7;

/// The GEMM kernels' suffix: this thread's precision (`ops::precision`), FP32 on a device
/// without tensor cores.
fn suffix(g: &Gpu) -> &'static str {
    let p = crate::ops::precision::gpu_precision().0;
    p.on(g.tensor_cores()).kernel_suffix()
}

/// y = conv2d(x, w) + bias: the direct kernel for Cin·K·K ≤ 27 (the 1-channel input), the
/// Cout = 1 kernel for one output channel, the tiled implicit GEMM otherwise (split over K when
/// its tiles alone would leave the GPU idle).
fn launch_forward(
    g: &Gpu,
    x: &DevBuf,
    w: &DevBuf,
    bias: Option<&DevBuf>,
    y: &DevBuf,
    geo: &KernelGeom,
) -> Result<()> {
    need("conv x", x, geo.x_len())?;
    need("conv w", w, geo.w_len())?;
    need("conv y", y, geo.y_len())?;
    let taps = (geo.cin * geo.k * geo.k) as usize;
    let thin = |name: &str, smem: usize| {
        let mut a = Args::new();
        a.buf(x).buf(w).opt(bias).buf(y).params(geo);
        g.launch(name, blocks(geo.y_len()), BLOCK, smem as u32, &mut a)
    };
    if taps <= 27 {
        return thin("conv2d_direct_fwd_f32", 0);
    }
    if geo.cout == 1 && taps <= THIN_SMEM_FLOATS {
        return thin("conv2d_cout1_fwd_f32", 4 * taps);
    }
    let (m, n) = (geo.cout as usize, geo.y_len() / geo.cout as usize);
    let split = split_few_tiles(m, n, taps);
    let name = format!("conv2d_fwd_{}", suffix(g));
    gemm_into(g, y, geo.y_len(), split.0, false, |out| {
        let mut a = Args::new();
        a.buf(x)
            .buf(w)
            .opt(bias)
            .buf(out)
            .params(geo)
            .i32(split.1 as i32);
        g.launch(
            &name,
            tile_grid(m, n, TILE, split.0)?,
            TILE_BLOCK,
            0,
            &mut a,
        )
    })
}

/// gx += conv2d's gradient with respect to its input: the Cin = 1 kernel for one input channel,
/// stride² phase GEMMs for a strided convolution, the tiled GEMM (split over K when its tiles
/// alone would leave the GPU idle) otherwise.
fn launch_backward_data(
    g: &Gpu,
    w: &DevBuf,
    gy: &DevBuf,
    gx: &DevBuf,
    geo: &KernelGeom,
) -> Result<()> {
    need("conv w", w, geo.w_len())?;
    need("conv gy", gy, geo.y_len())?;
    need("conv gx", gx, geo.x_len())?;
    let taps = (geo.cout * geo.k * geo.k) as usize;
    let mut a = Args::new();
    a.buf(w).buf(gy).buf(gx).params(geo);
    if geo.cin == 1 && taps <= THIN_SMEM_FLOATS {
        let (grid, smem) = (blocks(geo.x_len()), (4 * taps) as u32);
        return g.launch("conv2d_cin1_bwd_data_f32", grid, BLOCK, smem, &mut a);
    }
    let (m, n) = (geo.cin as usize, geo.x_len() / geo.cin as usize);
    if geo.stride > 1 {
        // Phase (0, 0) holds the most columns; the others exit their surplus blocks at once.
        let s = geo.stride as usize;
        let cols = geo.n as usize * (geo.h as usize).div_ceil(s) * (geo.w as usize).div_ceil(s);
        let name = format!("conv2d_bwd_data_strided_{}", suffix(g));
        return g.launch(
            &name,
            tile_grid(m, cols, TILE, s * s)?,
            TILE_BLOCK,
            0,
            &mut a,
        );
    }
    let split = split_few_tiles(m, n, taps);
    let name = format!("conv2d_bwd_data_{}", suffix(g));
    gemm_into(g, gx, geo.x_len(), split.0, true, |out| {
        let mut a = Args::new();
        a.buf(w).buf(gy).buf(out).params(geo).i32(split.1 as i32);
        g.launch(
            &name,
            tile_grid(m, n, TILE, split.0)?,
            TILE_BLOCK,
            0,
            &mut a,
        )
    })
}

/// gw = conv2d's gradient with respect to its weight (every value written): the Cout = 1 kernel
/// for one output channel, otherwise the tiled GEMM over the batch·Ho·Wo reduction, split into a
/// workspace and summed in a fixed order when it has few tiles.
fn launch_backward_weight(
    g: &Gpu,
    x: &DevBuf,
    gy: &DevBuf,
    gw: &DevBuf,
    geo: &KernelGeom,
) -> Result<()> {
    need("conv x", x, geo.x_len())?;
    need("conv gy", gy, geo.y_len())?;
    let (m, n) = (geo.cout as usize, geo.w_len() / geo.cout as usize);
    need("conv gw", gw, m * n)?;
    if geo.cout == 1 && geo.k <= THIN_KMAX {
        let pixels = geo.y_len();
        let want = TARGET_BLOCKS.div_ceil(geo.cin as usize).clamp(1, 65_535);
        let chunk = pixels.div_ceil(want).max(4096);
        let splits = pixels.div_ceil(chunk);
        return gemm_into(g, gw, n, splits, false, |ws| {
            let mut a = Args::new();
            a.buf(x).buf(gy).buf(ws).params(geo).i32(i32_dim(chunk)?);
            let grid = [splits as u32, geo.cin as u32, 1];
            g.launch("conv2d_cout1_bwd_weight_f32", grid, BLOCK, 0, &mut a)
        });
    }
    let tiles = m.div_ceil(TILE.0) * n.div_ceil(TILE.1);
    let (splits, chunk) = split_k(tiles, geo.y_len() / geo.cout as usize, 1);
    let name = format!("conv2d_bwd_weight_{}", suffix(g));
    gemm_into(g, gw, m * n, splits, false, |ws| {
        let mut a = Args::new();
        a.buf(x).buf(gy).buf(ws).params(geo).i32(chunk as i32);
        g.launch(&name, tile_grid(m, n, TILE, splits)?, TILE_BLOCK, 0, &mut a)
    })
}

/// Runs `launch` with the buffer its kernel should write: `out` itself for one split, else a workspace
/// of `splits` slices of `len` values that is then summed into `out` in slice order
/// (`accumulate`: added to what `out` holds, else written over it).
fn gemm_into(
    g: &Gpu,
    out: &DevBuf,
    len: usize,
    splits: usize,
    accumulate: bool,
    launch: impl FnOnce(&DevBuf) -> Result<()>,
) -> Result<()> {
    if splits == 1 {
        return launch(out);
    }
    let workspace = g.alloc_f32(splits * len)?;
    launch(&workspace)?;
    sum_splits(g, &workspace, out, splits, len, accumulate)
}

/// out[i] = Σ_z workspace[z·len + i] (`accumulate`: out[i] +=), z in order.
fn sum_splits(
    g: &Gpu,
    workspace: &DevBuf,
    out: &DevBuf,
    splits: usize,
    len: usize,
    accumulate: bool,
) -> Result<()> {
    let mut a = Args::new();
    a.buf(workspace)
        .buf(out)
        .i32(splits as i32)
        .i64(len as i64)
        .i32(accumulate as i32);
    g.launch("conv2d_splitk_sum_f32", blocks(len), BLOCK, 0, &mut a)
}

/// (splits, K per split) of a GEMM of `tiles` output tiles over `k`: enough splits to bring
/// TARGET_BLOCKS blocks (at most 64), each a whole number of 16-deep stages, at least
/// `min_stages` of them.
fn split_k(tiles: usize, k: usize, min_stages: usize) -> (usize, usize) {
    let want = TARGET_BLOCKS.div_ceil(tiles).clamp(1, 64);
    let chunk = (k.div_ceil(want).div_ceil(16) * 16).max(16 * min_stages);
    (k.div_ceil(chunk), chunk)
}

/// (splits, K per split) of an M×N×K forward or backward-data GEMM: one split while its tiles
/// reach half of TARGET_BLOCKS; below that (the 8×8 layers) split K, at least four stages a
/// slice.
fn split_few_tiles(m: usize, n: usize, k: usize) -> (usize, usize) {
    let tiles = m.div_ceil(TILE.0) * n.div_ceil(TILE.1);
    if tiles >= TARGET_BLOCKS / 2 {
        return (1, k);
    }
    split_k(tiles, k, 4)
}

#[cfg(test)]
mod tests {
    #[test]
    fn kernel_geometry_mirrors_conv_cu() {
        crate::gpu::check_mirror::<super::KernelGeom>().unwrap();
    }

    /// Split-K: the 8×8 layers at batch 16 (256 tiles) split, the 256² ones do not; the
    /// slices are whole 16-deep stages, at least four of them, and cover K exactly once.
    #[test]
    fn few_tiles_split_k_in_whole_stages() {
        use super::split_few_tiles;
        assert_eq!(split_few_tiles(64, 16 * 256 * 256, 576), (1, 576));
        for (m, n, k) in [(1024, 16 * 64, 1536 * 9), (16, 128, 144), (24, 36, 1152)] {
            let (splits, chunk) = split_few_tiles(m, n, k);
            assert!(splits > 1 && chunk % 16 == 0 && chunk >= 64, "{m}×{n}×{k}");
            assert!(
                (splits - 1) * chunk < k && splits * chunk >= k,
                "{m}×{n}×{k}"
            );
        }
    }

    /// Buffer sizes past 2³¹ elements are computed in 64 bits.
    #[test]
    fn sizes_past_two_to_the_31_do_not_overflow() {
        let g = super::KernelGeom {
            n: 512,
            cin: 1024,
            h: 64,
            w: 64,
            cout: 2048,
            k: 3,
            stride: 1,
            pad: 1,
            ho: 64,
            wo: 64,
        };
        assert_eq!(g.x_len(), 512 * 1024 * 64 * 64);
        assert_eq!(g.y_len(), 512 * 2048 * 64 * 64);
        assert_eq!(g.w_len(), 2048 * 1024 * 9);
        assert!(g.y_len() > i32::MAX as usize);
    }
}
