//! Elementwise ops on the CUDA kernels (kernels/elementwise.cu): the Tensor adapter and the
//! launchers. Op codes come from the kernel file's C enums (generated constants), so the two
//! sides cannot disagree; `zeros` (owned here) serves every family that needs a zeroed buffer.

use super::{Binary, Compare, Unary};
use crate::gpu::grid::{blocks, need, BLOCK};
use crate::gpu::{kernel_params, Args, DevBuf, Gpu};
use crate::{Error, Result, Shape, Tensor};

include!(concat!(env!("OUT_DIR"), "/kernel_enums/elementwise.rs"));

kernel_params! {
    /// `UnaryParams` of kernels/elementwise.cu.
    pub(crate) struct UnaryParams = "UnaryParams" {
        pub n: i64,
        pub op: i32,
        pub p0: f32,
        pub p1: f32,
        pub pad_: i32,
    }
}

kernel_params! {
    /// `BinaryParams` of kernels/elementwise.cu: up to 6-D broadcasting of two inputs.
    pub(crate) struct BinaryParams = "BinaryParams" {
        pub dims: [i64; 6],
        pub sa: [i64; 6],
        pub sb: [i64; 6],
        pub n: i64,
        pub rank: i32,
        pub op: i32,
    }
}

impl UnaryParams {
    /// The kernel's op code and parameters for `op` over n values.
    fn new(op: Unary, n: usize) -> UnaryParams {
        let (op, p0, p1) = match op {
            Unary::Neg => (UNARY_NEG, 0.0, 0.0),
            Unary::Relu => (UNARY_RELU, 0.0, 0.0),
            Unary::Tanh => (UNARY_TANH, 0.0, 0.0),
            Unary::Sigmoid => (UNARY_SIGMOID, 0.0, 0.0),
            Unary::Softplus => (UNARY_SOFTPLUS, 0.0, 0.0),
            Unary::Abs => (UNARY_ABS, 0.0, 0.0),
            Unary::Square => (UNARY_SQUARE, 0.0, 0.0),
            Unary::Exp => (UNARY_EXP, 0.0, 0.0),
            Unary::Log => (UNARY_LOG, 0.0, 0.0),
            Unary::Sqrt => (UNARY_SQRT, 0.0, 0.0),
            Unary::Clamp(lo, hi) => (UNARY_CLAMP, lo as f32, hi as f32),
            Unary::AddScalar(s) => (UNARY_ADD_SCALAR, s as f32, 0.0),
            Unary::MulScalar(s) => (UNARY_MUL_SCALAR, s as f32, 0.0),
            Unary::AtLeast(t) => (UNARY_AT_LEAST, t as f32, 0.0),
        };
        UnaryParams {
            n: n as i64,
            op,
            p0,
            p1,
            pad_: 0,
        }
    }
}

impl BinaryParams {
    /// Reading `a` and `b` (dims `da`, `db`) as `out` (their broadcast shape): dims and
    /// per-input strides, 0 on broadcast axes.
    fn new(op: i32, da: &[usize], db: &[usize], out: &Shape) -> Result<BinaryParams> {
        if out.rank() > 6 {
            return Err(Error::Shape(format!(
                "GPU broadcasting supports up to 6 dims, got {da:?} and {db:?}"
            )));
        }
        let mut p = BinaryParams {
            n: out.numel() as i64,
            rank: out.rank() as i32,
            op,
            ..Default::default()
        };
        let fill = |dst: &mut [i64; 6], src: Vec<usize>| {
            dst.iter_mut().zip(src).for_each(|(d, s)| *d = s as i64)
        };
        fill(&mut p.dims, out.dims().to_vec());
        fill(&mut p.sa, Shape(da.to_vec()).broadcast_strides(out));
        fill(&mut p.sb, Shape(db.to_vec()).broadcast_strides(out));
        Ok(p)
    }
}

fn binary_code(op: Binary) -> i32 {
    match op {
        Binary::Add => BINARY_ADD,
        Binary::Sub => BINARY_SUB,
        Binary::Mul => BINARY_MUL,
        Binary::Div => BINARY_DIV,
        Binary::Max => BINARY_MAXIMUM,
        Binary::Min => BINARY_MINIMUM,
    }
}

fn compare_code(op: Compare) -> i32 {
    match op {
        Compare::Gt => BINARY_GT,
        Compare::Ge => BINARY_GE,
        Compare::Lt => BINARY_LT,
        Compare::Le => BINARY_LE,
        Compare::Eq => BINARY_EQ,
    }
}

pub(super) fn unary_fwd(x: &Tensor, op: Unary) -> Option<Result<Tensor>> {
    Some((|| {
        let xb = x.dev()?;
        let y = xb.gpu().alloc_f32(x.numel())?;
        unary(xb.gpu(), op, &xb, &y, x.numel())?;
        Tensor::from_dev(y, x.shape().clone(), x.device())
    })())
}

pub(super) fn unary_bwd(x: &Tensor, y: &Tensor, g: &Tensor, op: Unary) -> Option<Result<Tensor>> {
    Some((|| {
        let (xb, yb, gb) = (x.dev()?, y.dev()?, g.dev()?);
        let gpu = xb.gpu();
        let n = x.numel();
        let gx = zeros(gpu, n)?;
        for (w, b) in [("x", &xb), ("y", &yb), ("gy", &gb), ("gx", &gx)] {
            need(&format!("unary backward {w}"), b, n)?;
        }
        let mut a = Args::new();
        a.buf(&xb)
            .buf(&yb)
            .buf(&gb)
            .buf(&gx)
            .params(&UnaryParams::new(op, n));
        gpu.launch("unary_bwd_f32", blocks(n), BLOCK, 0, &mut a)?;
        Tensor::from_dev(gx, x.shape().clone(), x.device())
    })())
}

pub(super) fn binary_fwd(
    a: &Tensor,
    b: &Tensor,
    out: &Shape,
    op: Binary,
) -> Option<Result<Tensor>> {
    Some((|| {
        let (ab, bb) = (a.dev()?, b.dev()?);
        let y = ab.gpu().alloc_f32(out.numel())?;
        binary(ab.gpu(), op, (&ab, a.dims()), (&bb, b.dims()), &y)?;
        Tensor::from_dev(y, out.clone(), a.device())
    })())
}

/// A comparison's u8 mask, held on the device (0.0 / 1.0 per element).
pub(super) fn compare(a: &Tensor, b: &Tensor, out: &Shape, op: Compare) -> Option<Result<Tensor>> {
    Some((|| {
        let (ab, bb) = (a.dev()?, b.dev()?);
        let y = ab.gpu().alloc_f32(out.numel())?;
        launch_binary(
            ab.gpu(),
            compare_code(op),
            (&ab, a.dims()),
            (&bb, b.dims()),
            &y,
        )?;
        Tensor::from_dev_mask(y, out.clone(), a.device())
    })())
}

/// `cond ? a : b` when the mask has the output's shape (the kernel reads it elementwise): a
/// device mask in place, a host one copied over; other masks: None.
pub(super) fn where_(cond: &Tensor, a: &Tensor, b: &Tensor, out: &Shape) -> Option<Result<Tensor>> {
    (cond.shape() == out).then(|| {
        let (ab, bb) = (a.dev()?, b.dev()?);
        let gpu = ab.gpu();
        let cb = match cond.dev_mask() {
            Some(m) => m?,
            None => {
                let mask: Vec<f32> = cond
                    .try_to_vec_f64()?
                    .into_iter()
                    .map(|v| v as f32)
                    .collect();
                gpu.upload(&mask)?
            }
        };
        let y = gpu.alloc_f32(out.numel())?;
        let p = BinaryParams::new(0, a.dims(), b.dims(), out)?;
        need("where a", &ab, a.numel())?;
        need("where b", &bb, b.numel())?;
        let mut args = Args::new();
        args.buf(&cb).buf(&ab).buf(&bb).buf(&y).params(&p);
        gpu.launch("where_f32", blocks(out.numel()), BLOCK, 0, &mut args)?;
        Tensor::from_dev(y, out.clone(), a.device())
    })
}

/// y = op(x) over n values.
pub(crate) fn unary(g: &Gpu, op: Unary, x: &DevBuf, y: &DevBuf, n: usize) -> Result<()> {
    need("unary x", x, n)?;
    need("unary y", y, n)?;
    let mut a = Args::new();
    a.buf(x).buf(y).params(&UnaryParams::new(op, n));
    g.launch("unary_fwd_f32", blocks(n), BLOCK, 0, &mut a)
}

/// y = a ∘ b with broadcasting; `y` holds the broadcast shape.
pub(crate) fn binary(
    g: &Gpu,
    op: Binary,
    a: (&DevBuf, &[usize]),
    b: (&DevBuf, &[usize]),
    y: &DevBuf,
) -> Result<()> {
    launch_binary(g, binary_code(op), a, b, y)
}

/// `binary_fwd_f32` with op code `code` (an arithmetic op or a comparison).
fn launch_binary(
    g: &Gpu,
    code: i32,
    a: (&DevBuf, &[usize]),
    b: (&DevBuf, &[usize]),
    y: &DevBuf,
) -> Result<()> {
    let out = Shape(a.1.to_vec()).broadcast(&Shape(b.1.to_vec()), "GPU broadcast")?;
    let p = BinaryParams::new(code, a.1, b.1, &out)?;
    need("binary a", a.0, a.1.iter().product())?;
    need("binary b", b.0, b.1.iter().product())?;
    need("binary y", y, out.numel())?;
    let mut args = Args::new();
    args.buf(a.0).buf(b.0).buf(y).params(&p);
    g.launch("binary_fwd_f32", blocks(out.numel()), BLOCK, 0, &mut args)
}

/// A zeroed buffer of n values (set by the runtime's [`Gpu::fill`]).
pub(crate) fn zeros(g: &Gpu, n: usize) -> Result<DevBuf> {
    g.full_f32(n, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_structs_mirror_elementwise_cu() {
        crate::gpu::check_mirror::<UnaryParams>().unwrap();
        crate::gpu::check_mirror::<BinaryParams>().unwrap();
    }

    /// A code the kernel does not know yields NaN, never another op's result.
    #[test]
    fn an_unknown_op_code_is_nan() {
        let g = crate::gpu::Gpu::emu();
        let x = g.upload(&[1.0, 2.0]).unwrap();
        let y = g.alloc_f32(2).unwrap();
        let mut p = UnaryParams::new(Unary::MulScalar(3.0), 2);
        p.op = 99;
        let mut a = Args::new();
        a.buf(&x).buf(&y).params(&p);
        g.launch("unary_fwd_f32", blocks(2), BLOCK, 0, &mut a)
            .unwrap();
        assert!(g.download(&y).unwrap().iter().all(|v| v.is_nan()));
    }
}
