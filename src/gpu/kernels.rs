//! Launch wrappers, one per kernel family: shapes in, launches out. Used by the `Emu` and
//! `Cuda` devices alike; tested against the reference ops (`tests/gpu.rs`).

use super::{Args, Bcast6, ConvGeom, DevBuf, Gpu};
use crate::ops::Unary;
use crate::{Error, Result, Shape};

const THREADS: u32 = 256;

/// Blocks for a grid-stride loop over n elements.
fn blocks(n: usize) -> u32 {
    n.div_ceil(THREADS as usize).clamp(1, 4096) as u32
}

/// Grid (blocks over a plane of `hw` values, `planes`) for per-plane kernels.
fn plane_grid(planes: usize, hw: usize) -> Result<[u32; 3]> {
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

fn need(what: &str, b: &DevBuf, n: usize) -> Result<()> {
    if b.len() < n {
        return Err(Error::Shape(format!(
            "{what}: device buffer of {} values, {n} needed",
            b.len()
        )));
    }
    Ok(())
}

/// (op code, p0, p1) of a unary op, in the order of `coin_unary` in kernels/elementwise.cu.
fn unary_code(op: Unary) -> (i32, f32, f32) {
    match op {
        Unary::Neg => (0, 0.0, 0.0),
        Unary::Relu => (1, 0.0, 0.0),
        Unary::Tanh => (2, 0.0, 0.0),
        Unary::Sigmoid => (3, 0.0, 0.0),
        Unary::Softplus => (4, 0.0, 0.0),
        Unary::Abs => (5, 0.0, 0.0),
        Unary::Square => (6, 0.0, 0.0),
        Unary::Exp => (7, 0.0, 0.0),
        Unary::Log => (8, 0.0, 0.0),
        Unary::Sqrt => (9, 0.0, 0.0),
        Unary::Clamp(lo, hi) => (10, lo as f32, hi as f32),
        Unary::AddScalar(s) => (11, s as f32, 0.0),
        Unary::MulScalar(s) => (12, s as f32, 0.0),
    }
}

/// y = op(x) over n values.
pub fn unary_fwd(g: &Gpu, op: Unary, x: &DevBuf, y: &DevBuf, n: usize) -> Result<()> {
    need("unary x", x, n)?;
    need("unary y", y, n)?;
    let (code, p0, p1) = unary_code(op);
    let mut a = Args::new();
    a.buf(x).buf(y).i64(n as i64).i32(code).f32(p0).f32(p1);
    g.launch(
        "unary_fwd_f32",
        [blocks(n), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// gx += op'(x, y)·gy over n values.
pub fn unary_bwd(
    g: &Gpu,
    op: Unary,
    x: &DevBuf,
    y: &DevBuf,
    gy: &DevBuf,
    gx: &DevBuf,
    n: usize,
) -> Result<()> {
    for (w, b) in [("x", x), ("y", y), ("gy", gy), ("gx", gx)] {
        need(&format!("unary backward {w}"), b, n)?;
    }
    let (code, p0, p1) = unary_code(op);
    let mut a = Args::new();
    a.buf(x)
        .buf(y)
        .buf(gy)
        .buf(gx)
        .i64(n as i64)
        .i32(code)
        .f32(p0)
        .f32(p1);
    g.launch(
        "unary_bwd_f32",
        [blocks(n), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// Binary and comparison ops of kernels/elementwise.cu.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

/// The kernels' view of reading `a` and `b` (dims `da`, `db`) as `out` (their common
/// broadcast shape, as `Shape::broadcast`): dims and per-input strides, 0 on broadcast axes.
fn bcast6(da: &[usize], db: &[usize], out: &Shape) -> Result<Bcast6> {
    if out.rank() > 6 {
        return Err(Error::Shape(format!(
            "GPU broadcasting supports up to 6 dims, got {da:?} and {db:?}"
        )));
    }
    let mut bc = Bcast6 {
        rank: out.rank() as i32,
        ..Default::default()
    };
    let fill = |dst: &mut [i64; 6], src: Vec<usize>| {
        dst.iter_mut().zip(src).for_each(|(d, s)| *d = s as i64)
    };
    fill(&mut bc.dims, out.dims().to_vec());
    fill(&mut bc.sa, Shape(da.to_vec()).broadcast_strides(out));
    fill(&mut bc.sb, Shape(db.to_vec()).broadcast_strides(out));
    Ok(bc)
}

/// The broadcast shape of `da` and `db` and the kernels' geometry for it.
pub fn broadcast(da: &[usize], db: &[usize]) -> Result<(Vec<usize>, Bcast6)> {
    let out = Shape(da.to_vec()).broadcast(&Shape(db.to_vec()), "GPU broadcast")?;
    Ok((out.dims().to_vec(), bcast6(da, db, &out)?))
}

/// y = a ∘ b with broadcasting; `y` holds the broadcast shape.
pub fn binary(
    g: &Gpu,
    op: BinaryOp,
    a: (&DevBuf, &[usize]),
    b: (&DevBuf, &[usize]),
    y: &DevBuf,
) -> Result<Vec<usize>> {
    let (out, bc) = broadcast(a.1, b.1)?;
    let n: usize = out.iter().product();
    need("binary a", a.0, a.1.iter().product())?;
    need("binary b", b.0, b.1.iter().product())?;
    need("binary y", y, n)?;
    let mut args = Args::new();
    args.buf(a.0)
        .buf(b.0)
        .buf(y)
        .i64(n as i64)
        .i32(op as i32)
        .bcast(&bc);
    g.launch(
        "binary_fwd_f32",
        [blocks(n), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut args,
    )?;
    Ok(out)
}

/// y = cond ≠ 0 ? a : b; `cond` has the output shape, `a` and `b` broadcast onto it.
pub fn where_(
    g: &Gpu,
    cond: (&DevBuf, &[usize]),
    a: (&DevBuf, &[usize]),
    b: (&DevBuf, &[usize]),
    y: &DevBuf,
) -> Result<()> {
    let out = Shape(cond.1.to_vec());
    let ab = Shape(a.1.to_vec()).broadcast(&Shape(b.1.to_vec()), "where")?;
    if ab.broadcast(&out, "where")? != out {
        return Err(Error::Shape(format!(
            "where: condition {:?} must have the output shape of {:?} and {:?}",
            cond.1, a.1, b.1
        )));
    }
    let bc = bcast6(a.1, b.1, &out)?;
    let n: usize = cond.1.iter().product();
    need("where cond", cond.0, n)?;
    need("where y", y, n)?;
    let mut args = Args::new();
    args.buf(cond.0)
        .buf(a.0)
        .buf(b.0)
        .buf(y)
        .i64(n as i64)
        .bcast(&bc);
    g.launch(
        "where_f32",
        [blocks(n), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut args,
    )
}

/// Sets n values of `y` to `v`.
pub fn fill(g: &Gpu, y: &DevBuf, n: usize, v: f32) -> Result<()> {
    need("fill", y, n)?;
    let mut a = Args::new();
    a.buf(y).i64(n as i64).f32(v);
    g.launch("fill_f32", [blocks(n), 1, 1], [THREADS, 1, 1], 0, &mut a)
}

/// y[o, i] = scale · Σ_m x[o, m, i]: a sum over the middle axis of x viewed as
/// [outer, mid, inner]. Deterministic (fixed order per output).
pub fn reduce(
    g: &Gpu,
    x: &DevBuf,
    y: &DevBuf,
    [outer, mid, inner]: [usize; 3],
    scale: f32,
) -> Result<()> {
    need("reduce x", x, outer * mid * inner)?;
    need("reduce y", y, outer * inner)?;
    let mut a = Args::new();
    if inner == 1 {
        a.buf(x).buf(y).i64(outer as i64).i64(mid as i64).f32(scale);
        let grid = outer.clamp(1, 65535) as u32;
        g.launch("reduce_rows_f32", [grid, 1, 1], [THREADS, 1, 1], 0, &mut a)
    } else {
        a.buf(x)
            .buf(y)
            .i64(outer as i64)
            .i64(mid as i64)
            .i64(inner as i64)
            .f32(scale);
        let n = outer * inner;
        g.launch(
            "reduce_mid_f32",
            [blocks(n), 1, 1],
            [THREADS, 1, 1],
            0,
            &mut a,
        )
    }
}

/// Adam's hyper-parameters for one step (the host computes the bias corrections).
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub decoupled: bool,
    /// 1-based step number.
    pub t: i32,
}

/// One fused Adam/AdamW step over n parameters.
pub fn adam(g: &Gpu, [p, grad, m, v]: [&DevBuf; 4], n: usize, s: AdamStep) -> Result<()> {
    for (w, b) in [("p", p), ("g", grad), ("m", m), ("v", v)] {
        need(&format!("adam {w}"), b, n)?;
    }
    let bc1 = 1.0 - (s.beta1 as f64).powi(s.t);
    let bc2 = 1.0 - (s.beta2 as f64).powi(s.t);
    let mut a = Args::new();
    a.buf(p)
        .buf(grad)
        .buf(m)
        .buf(v)
        .i64(n as i64)
        .f32(s.lr)
        .f32(s.beta1)
        .f32(s.beta2)
        .f32(s.eps)
        .f32(s.weight_decay)
        .f32((s.lr as f64 / bc1) as f32)
        .f32(bc2.sqrt() as f32)
        .i32(s.decoupled as i32);
    g.launch("adam_f32", [blocks(n), 1, 1], [THREADS, 1, 1], 0, &mut a)
}

/// Per-channel batch statistics of NCHW `x`: mean, 1/√(var + eps), biased var (each [C]).
pub fn bn_stats(
    g: &Gpu,
    x: &DevBuf,
    [mean, invstd, var]: [&DevBuf; 3],
    [n, c, h, w]: [usize; 4],
    eps: f32,
) -> Result<()> {
    need("bn x", x, n * c * h * w)?;
    for b in [mean, invstd, var] {
        need("bn statistics", b, c)?;
    }
    let mut a = Args::new();
    a.buf(x)
        .buf(mean)
        .buf(invstd)
        .buf(var)
        .i64(n as i64)
        .i64(c as i64)
        .i64((h * w) as i64)
        .f32(eps);
    g.launch("bn_stats_f32", [c as u32, 1, 1], [THREADS, 1, 1], 0, &mut a)
}

/// y = (x − mean)·invstd·γ + β (γ, β optional).
#[allow(clippy::too_many_arguments)]
pub fn bn_apply(
    g: &Gpu,
    x: &DevBuf,
    mean: &DevBuf,
    invstd: &DevBuf,
    gamma: Option<&DevBuf>,
    beta: Option<&DevBuf>,
    y: &DevBuf,
    [n, c, h, w]: [usize; 4],
) -> Result<()> {
    let total = n * c * h * w;
    need("bn x", x, total)?;
    need("bn y", y, total)?;
    let mut a = Args::new();
    a.buf(x)
        .buf(mean)
        .buf(invstd)
        .opt(gamma)
        .opt(beta)
        .buf(y)
        .i32(c as i32)
        .i32((h * w) as i32);
    g.launch(
        "bn_apply_f32",
        plane_grid(n * c, h * w)?,
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// Per channel: Σgy and Σgy·x̂ (the gradients of β and γ).
pub fn bn_bwd_sums(
    g: &Gpu,
    x: &DevBuf,
    gy: &DevBuf,
    mean: &DevBuf,
    invstd: &DevBuf,
    [sum_gy, sum_gyx]: [&DevBuf; 2],
    [n, c, h, w]: [usize; 4],
) -> Result<()> {
    let total = n * c * h * w;
    for b in [x, gy] {
        need("bn backward", b, total)?;
    }
    let mut a = Args::new();
    a.buf(x)
        .buf(gy)
        .buf(mean)
        .buf(invstd)
        .buf(sum_gy)
        .buf(sum_gyx)
        .i64(n as i64)
        .i64(c as i64)
        .i64((h * w) as i64);
    g.launch(
        "bn_bwd_reduce_f32",
        [c as u32, 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// Training-mode backward: the sums of [`bn_bwd_sums`], then
/// gx += γ·invstd·(gy − (Σgy + x̂·Σgy·x̂)/m).
#[allow(clippy::too_many_arguments)]
pub fn bn_backward(
    g: &Gpu,
    x: &DevBuf,
    gy: &DevBuf,
    mean: &DevBuf,
    invstd: &DevBuf,
    gamma: Option<&DevBuf>,
    [sum_gy, sum_gyx]: [&DevBuf; 2],
    gx: &DevBuf,
    [n, c, h, w]: [usize; 4],
) -> Result<()> {
    need("bn backward gx", gx, n * c * h * w)?;
    bn_bwd_sums(g, x, gy, mean, invstd, [sum_gy, sum_gyx], [n, c, h, w])?;
    let mut a = Args::new();
    a.buf(x)
        .buf(gy)
        .buf(mean)
        .buf(invstd)
        .opt(gamma)
        .buf(sum_gy)
        .buf(sum_gyx)
        .buf(gx)
        .i32(c as i32)
        .i32((h * w) as i32)
        .f32(1.0 / (n * h * w) as f32);
    g.launch(
        "bn_bwd_data_f32",
        plane_grid(n * c, h * w)?,
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// Convolution geometry from NCHW input dims, the weight's [Cout, Cin, K, K], stride, padding.
pub fn conv_geom(x: [usize; 4], w: [usize; 4], stride: usize, pad: usize) -> Result<ConvGeom> {
    let [n, cin, h, wd] = x;
    let [cout, cin2, k, k2] = w;
    if cin != cin2 || k != k2 || stride == 0 || h + 2 * pad < k || wd + 2 * pad < k {
        return Err(Error::Shape(format!(
            "conv2d: input {x:?}, weight {w:?}, stride {stride}, padding {pad} do not fit"
        )));
    }
    let i = |v: usize| i32::try_from(v).map_err(|_| Error::Shape(format!("{v} exceeds i32")));
    Ok(ConvGeom {
        n: i(n)?,
        cin: i(cin)?,
        h: i(h)?,
        w: i(wd)?,
        cout: i(cout)?,
        k: i(k)?,
        stride: i(stride)?,
        pad: i(pad)?,
        ho: i((h + 2 * pad - k) / stride + 1)?,
        wo: i((wd + 2 * pad - k) / stride + 1)?,
    })
}

/// The convolution tiles compiled in kernels/conv2d.cu.
pub const CONV_TILES: [(usize, usize); 3] = [(64, 64), (32, 128), (128, 32)];

thread_local! {
    static FORCED_TILE: std::cell::Cell<Option<(usize, usize)>> = const { std::cell::Cell::new(None) };
}

/// Forces the convolution tile of launches from this thread (tests cover every tile with it);
/// `None` restores the per-shape choice.
pub fn force_conv_tile(t: Option<(usize, usize)>) {
    FORCED_TILE.with(|f| f.set(t));
}

/// The tile (BM, BN) for a GEMM of M rows and N columns.
fn tile(m: usize, n: usize) -> (usize, usize) {
    if let Some(t) = FORCED_TILE.with(|f| f.get()) {
        return t;
    }
    if m <= 32 {
        (32, 128)
    } else if n <= 32 || (m >= 256 && n < 256) {
        (128, 32)
    } else {
        (64, 64)
    }
}

fn gemm_grid(m: usize, n: usize, (bm, bn): (usize, usize), z: usize) -> Result<[u32; 3]> {
    let (gx, gy) = (n.div_ceil(bn), m.div_ceil(bm));
    if gy > 65535 || z > 65535 || gx > i32::MAX as usize {
        return Err(Error::Shape(format!(
            "GEMM of {m}×{n} is too large for one launch"
        )));
    }
    Ok([gx as u32, gy as u32, z as u32])
}

/// y = conv2d(x, w) + bias: the direct kernel for Cin·K·K ≤ 27 (the 1-channel input), the
/// tiled implicit GEMM otherwise.
pub fn conv2d_fwd(
    g: &Gpu,
    x: &DevBuf,
    w: &DevBuf,
    bias: Option<&DevBuf>,
    y: &DevBuf,
    geo: &ConvGeom,
) -> Result<()> {
    let c = |v: i32| v as usize;
    need("conv x", x, c(geo.n * geo.cin * geo.h * geo.w))?;
    need("conv w", w, c(geo.cout * geo.cin * geo.k * geo.k))?;
    let out = c(geo.n) * c(geo.cout) * c(geo.ho) * c(geo.wo);
    need("conv y", y, out)?;
    let mut a = Args::new();
    if geo.cin * geo.k * geo.k <= 27 {
        a.buf(x).buf(w).opt(bias).buf(y).conv(geo);
        return g.launch(
            "conv2d_direct_fwd_f32",
            [blocks(out), 1, 1],
            [THREADS, 1, 1],
            0,
            &mut a,
        );
    }
    let (m, n) = (c(geo.cout), c(geo.n * geo.ho * geo.wo));
    let t = tile(m, n);
    a.buf(x).buf(w).opt(bias).buf(y).conv(geo);
    let name = format!("conv2d_igemm_fwd_{}x{}_f32", t.0, t.1);
    g.launch(&name, gemm_grid(m, n, t, 1)?, [THREADS, 1, 1], 0, &mut a)
}

/// gx += conv2d's gradient with respect to its input.
pub fn conv2d_bwd_data(
    g: &Gpu,
    w: &DevBuf,
    gy: &DevBuf,
    gx: &DevBuf,
    geo: &ConvGeom,
) -> Result<()> {
    let c = |v: i32| v as usize;
    need("conv w", w, c(geo.cout * geo.cin * geo.k * geo.k))?;
    need(
        "conv gy",
        gy,
        c(geo.n) * c(geo.cout) * c(geo.ho) * c(geo.wo),
    )?;
    need("conv gx", gx, c(geo.n * geo.cin * geo.h * geo.w))?;
    let (m, n) = (c(geo.cin), c(geo.n * geo.h * geo.w));
    let t = tile(m, n);
    let mut a = Args::new();
    a.buf(w).buf(gy).buf(gx).conv(geo);
    let name = format!("conv2d_igemm_bwd_data_{}x{}_f32", t.0, t.1);
    g.launch(&name, gemm_grid(m, n, t, 1)?, [THREADS, 1, 1], 0, &mut a)
}

/// gw += conv2d's gradient with respect to its weight. Split-K over the batch·Ho·Wo reduction
/// into `workspace` (see [`conv2d_bwd_weight_workspace`]), then a fixed-order sum.
pub fn conv2d_bwd_weight(
    g: &Gpu,
    x: &DevBuf,
    gy: &DevBuf,
    gw: &DevBuf,
    workspace: &DevBuf,
    geo: &ConvGeom,
) -> Result<()> {
    let c = |v: i32| v as usize;
    need("conv x", x, c(geo.n * geo.cin * geo.h * geo.w))?;
    need(
        "conv gy",
        gy,
        c(geo.n) * c(geo.cout) * c(geo.ho) * c(geo.wo),
    )?;
    let (m, n) = (c(geo.cout), c(geo.cin * geo.k * geo.k));
    need("conv gw", gw, m * n)?;
    let (splits, chunk) = splitk(geo);
    need("conv workspace", workspace, splits * m * n)?;
    let t = tile(m, n);
    let mut a = Args::new();
    a.buf(x).buf(gy).buf(workspace).conv(geo).i32(chunk as i32);
    let name = format!("conv2d_igemm_bwd_weight_{}x{}_f32", t.0, t.1);
    g.launch(
        &name,
        gemm_grid(m, n, t, splits)?,
        [THREADS, 1, 1],
        0,
        &mut a,
    )?;
    let mut a = Args::new();
    a.buf(workspace)
        .buf(gw)
        .i32(splits as i32)
        .i64((m * n) as i64);
    g.launch(
        "conv2d_splitk_sum_f32",
        [blocks(m * n), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// (splits, K per split) of the weight gradient: enough blocks to fill a large GPU, each split
/// a multiple of the 16-deep K tile.
fn splitk(geo: &ConvGeom) -> (usize, usize) {
    let k = (geo.n * geo.ho * geo.wo) as usize;
    let (m, n) = (geo.cout as usize, (geo.cin * geo.k * geo.k) as usize);
    let t = tile(m, n);
    let tiles = m.div_ceil(t.0) * n.div_ceil(t.1);
    let want = 512usize.div_ceil(tiles).clamp(1, 64);
    let chunk = k.div_ceil(want).div_ceil(16) * 16;
    (k.div_ceil(chunk), chunk)
}

/// Floats of workspace [`conv2d_bwd_weight`] needs.
pub fn conv2d_bwd_weight_workspace(geo: &ConvGeom) -> usize {
    let (splits, _) = splitk(geo);
    splits * (geo.cout * geo.cin * geo.k * geo.k) as usize
}

/// Plane geometry of pooling and resampling launches.
fn planes_args(a: &mut Args, planes: usize, dims: &[usize]) -> Result<()> {
    a.i64(planes as i64);
    for &d in dims {
        a.i32(i32::try_from(d).map_err(|_| Error::Shape(format!("{d} exceeds i32")))?);
    }
    Ok(())
}

/// avg_pool2d (window = stride = k) over `planes` h × w planes.
pub fn avg_pool_fwd(
    g: &Gpu,
    x: &DevBuf,
    y: &DevBuf,
    planes: usize,
    [h, w]: [usize; 2],
    k: usize,
) -> Result<()> {
    let (ho, wo) = (h / k, w / k);
    need("avg_pool x", x, planes * h * w)?;
    need("avg_pool y", y, planes * ho * wo)?;
    let mut a = Args::new();
    a.buf(x).buf(y);
    planes_args(&mut a, planes, &[h, w, ho, wo, k])?;
    g.launch(
        "avg_pool_fwd_f32",
        [blocks(planes * ho * wo), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// gx += avg_pool2d's input gradient.
pub fn avg_pool_bwd(
    g: &Gpu,
    gy: &DevBuf,
    gx: &DevBuf,
    planes: usize,
    [h, w]: [usize; 2],
    k: usize,
) -> Result<()> {
    let (ho, wo) = (h / k, w / k);
    need("avg_pool gy", gy, planes * ho * wo)?;
    need("avg_pool gx", gx, planes * h * w)?;
    let mut a = Args::new();
    a.buf(gy).buf(gx);
    planes_args(&mut a, planes, &[h, w, ho, wo, k])?;
    g.launch(
        "avg_pool_bwd_f32",
        [blocks(planes * h * w), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// Output side of a max pool.
pub fn max_pool_out(h: usize, k: usize, s: usize, p: usize) -> usize {
    (h + 2 * p - k) / s + 1
}

/// max_pool2d: y and the winner's index within its plane (`arg`, int32).
pub fn max_pool_fwd(
    g: &Gpu,
    x: &DevBuf,
    y: &DevBuf,
    arg: &DevBuf,
    planes: usize,
    [h, w]: [usize; 2],
    [k, s, p]: [usize; 3],
) -> Result<()> {
    let (ho, wo) = (max_pool_out(h, k, s, p), max_pool_out(w, k, s, p));
    need("max_pool x", x, planes * h * w)?;
    need("max_pool y", y, planes * ho * wo)?;
    need("max_pool argmax", arg, planes * ho * wo)?;
    let mut a = Args::new();
    a.buf(x).buf(y).buf(arg);
    planes_args(&mut a, planes, &[h, w, ho, wo, k, s, p])?;
    g.launch(
        "max_pool_fwd_f32",
        [blocks(planes * ho * wo), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// gx += max_pool2d's input gradient (to each window's winner).
pub fn max_pool_bwd(
    g: &Gpu,
    gy: &DevBuf,
    arg: &DevBuf,
    gx: &DevBuf,
    planes: usize,
    [h, w]: [usize; 2],
    [k, s, p]: [usize; 3],
) -> Result<()> {
    let (ho, wo) = (max_pool_out(h, k, s, p), max_pool_out(w, k, s, p));
    need("max_pool gy", gy, planes * ho * wo)?;
    need("max_pool gx", gx, planes * h * w)?;
    let mut a = Args::new();
    a.buf(gy).buf(arg).buf(gx);
    planes_args(&mut a, planes, &[h, w, ho, wo, k, s, p])?;
    g.launch(
        "max_pool_bwd_f32",
        [blocks(planes * h * w), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// Nearest upsampling by an integer factor.
pub fn upsample_nearest_fwd(
    g: &Gpu,
    x: &DevBuf,
    y: &DevBuf,
    planes: usize,
    [h, w]: [usize; 2],
    s: usize,
) -> Result<()> {
    need("upsample x", x, planes * h * w)?;
    need("upsample y", y, planes * h * w * s * s)?;
    let mut a = Args::new();
    a.buf(x).buf(y);
    planes_args(&mut a, planes, &[h, w, s])?;
    g.launch(
        "upsample_nearest_fwd_f32",
        [blocks(planes * h * w * s * s), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// gx += nearest upsampling's input gradient.
pub fn upsample_nearest_bwd(
    g: &Gpu,
    gy: &DevBuf,
    gx: &DevBuf,
    planes: usize,
    [h, w]: [usize; 2],
    s: usize,
) -> Result<()> {
    need("upsample gy", gy, planes * h * w * s * s)?;
    need("upsample gx", gx, planes * h * w)?;
    let mut a = Args::new();
    a.buf(gy).buf(gx);
    planes_args(&mut a, planes, &[h, w, s])?;
    g.launch(
        "upsample_nearest_bwd_f32",
        [blocks(planes * h * w), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// Bilinear resize of each plane to ho × wo.
pub fn bilinear_fwd(
    g: &Gpu,
    x: &DevBuf,
    y: &DevBuf,
    planes: usize,
    [h, w]: [usize; 2],
    [ho, wo]: [usize; 2],
    align_corners: bool,
) -> Result<()> {
    need("bilinear x", x, planes * h * w)?;
    need("bilinear y", y, planes * ho * wo)?;
    let mut a = Args::new();
    a.buf(x).buf(y);
    planes_args(&mut a, planes, &[h, w, ho, wo, align_corners as usize])?;
    g.launch(
        "bilinear_fwd_f32",
        [blocks(planes * ho * wo), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// gx += the bilinear resize's input gradient.
pub fn bilinear_bwd(
    g: &Gpu,
    gy: &DevBuf,
    gx: &DevBuf,
    planes: usize,
    [h, w]: [usize; 2],
    [ho, wo]: [usize; 2],
    align_corners: bool,
) -> Result<()> {
    need("bilinear gy", gy, planes * ho * wo)?;
    need("bilinear gx", gx, planes * h * w)?;
    let mut a = Args::new();
    a.buf(gy).buf(gx);
    planes_args(&mut a, planes, &[h, w, ho, wo, align_corners as usize])?;
    g.launch(
        "bilinear_bwd_f32",
        [blocks(planes * h * w), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// Mean BCE-with-logits of n logits `z` against targets `y` into `out[0]`; `terms` is n floats
/// of scratch.
pub fn bce_with_logits(
    g: &Gpu,
    z: &DevBuf,
    y: &DevBuf,
    terms: &DevBuf,
    out: &DevBuf,
    n: usize,
) -> Result<()> {
    for (w, b) in [("z", z), ("y", y), ("terms", terms)] {
        need(&format!("bce {w}"), b, n)?;
    }
    let mut a = Args::new();
    a.buf(z).buf(y).buf(terms).i64(n as i64);
    g.launch(
        "bce_terms_f32",
        [blocks(n), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )?;
    reduce(g, terms, out, [1, n, 1], 1.0 / n as f32)
}

/// dz += (σ(z) − y)·u/n, dy += −z·u/n (either optional), where u is the upstream gradient read
/// on the device from `upstream` (one value; 1 when None).
#[allow(clippy::too_many_arguments)]
pub fn bce_with_logits_bwd(
    g: &Gpu,
    z: &DevBuf,
    y: &DevBuf,
    dz: Option<&DevBuf>,
    dy: Option<&DevBuf>,
    upstream: Option<&DevBuf>,
    n: usize,
) -> Result<()> {
    need("bce z", z, n)?;
    need("bce y", y, n)?;
    let mut a = Args::new();
    a.buf(z)
        .buf(y)
        .opt(dz)
        .opt(dy)
        .opt(upstream)
        .i64(n as i64)
        .f32(1.0 / n as f32);
    g.launch("bce_bwd_f32", [blocks(n), 1, 1], [THREADS, 1, 1], 0, &mut a)
}

/// How a GEMM operand is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// As used: A is M×K, B is K×N.
    Plain,
    /// Transposed: A stored K×M, B stored N×K.
    Transposed,
}

/// C = (accumulate ? C : 0) + op(A)·op(B) + bias (per column, optional); op(A) is m×k, op(B)
/// k×n.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    g: &Gpu,
    (a, la): (&DevBuf, Layout),
    (b, lb): (&DevBuf, Layout),
    bias: Option<&DevBuf>,
    c: &DevBuf,
    [m, n, k]: [usize; 3],
    accumulate: bool,
) -> Result<()> {
    need("gemm a", a, m * k)?;
    need("gemm b", b, k * n)?;
    need("gemm c", c, m * n)?;
    let i =
        |v: usize| i32::try_from(v).map_err(|_| Error::Shape(format!("GEMM dim {v} exceeds i32")));
    let mut args = Args::new();
    args.buf(a)
        .buf(b)
        .opt(bias)
        .buf(c)
        .i32(i(m)?)
        .i32(i(n)?)
        .i32(i(k)?)
        .i32((la == Layout::Transposed) as i32)
        .i32((lb == Layout::Transposed) as i32)
        .i32(accumulate as i32);
    g.launch(
        "gemm_f32",
        gemm_grid(m, n, (64, 64), 1)?,
        [THREADS, 1, 1],
        0,
        &mut args,
    )
}

/// y[i] = table[ids[i]] for `b` ids (int32) into a [V, d] table.
pub fn embedding_fwd(
    g: &Gpu,
    ids: &DevBuf,
    table: &DevBuf,
    y: &DevBuf,
    b: usize,
    d: usize,
) -> Result<()> {
    need("embedding ids", ids, b)?;
    need("embedding y", y, b * d)?;
    let mut a = Args::new();
    a.buf(ids).buf(table).buf(y).i64(b as i64).i64(d as i64);
    g.launch(
        "embedding_fwd_f32",
        [blocks(b * d), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// gt[r] += Σ over the ids equal to r of gy[i].
pub fn embedding_bwd(
    g: &Gpu,
    ids: &DevBuf,
    gy: &DevBuf,
    gt: &DevBuf,
    [b, v, d]: [usize; 3],
) -> Result<()> {
    need("embedding ids", ids, b)?;
    need("embedding gy", gy, b * d)?;
    need("embedding gt", gt, v * d)?;
    let mut a = Args::new();
    a.buf(ids)
        .buf(gy)
        .buf(gt)
        .i64(b as i64)
        .i64(v as i64)
        .i64(d as i64);
    g.launch(
        "embedding_bwd_f32",
        [blocks(v * d), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}

/// A block copy between tensors viewed as [outer, mid, inner]: dst[o, dst_off + m, i] (=|+=)
/// src[o, src_off + m, i] for m < len. Serves narrow, cat, split and their backward.
#[allow(clippy::too_many_arguments)]
pub fn copy_block(
    g: &Gpu,
    src: &DevBuf,
    dst: &DevBuf,
    outer: usize,
    [src_mid, src_off]: [usize; 2],
    [dst_mid, dst_off]: [usize; 2],
    len: usize,
    inner: usize,
    accumulate: bool,
) -> Result<()> {
    if src_off + len > src_mid || dst_off + len > dst_mid {
        return Err(Error::Shape(format!(
            "copy_block: {len} rows from {src_off} of {src_mid} into {dst_off} of {dst_mid}"
        )));
    }
    need("copy src", src, outer * src_mid * inner)?;
    need("copy dst", dst, outer * dst_mid * inner)?;
    let mut a = Args::new();
    a.buf(src)
        .buf(dst)
        .i64(outer as i64)
        .i64(src_mid as i64)
        .i64(dst_mid as i64)
        .i64(src_off as i64)
        .i64(dst_off as i64)
        .i64(len as i64)
        .i64(inner as i64)
        .i32(accumulate as i32);
    let n = outer * len * inner;
    g.launch(
        "copy_block_f32",
        [blocks(n), 1, 1],
        [THREADS, 1, 1],
        0,
        &mut a,
    )
}
