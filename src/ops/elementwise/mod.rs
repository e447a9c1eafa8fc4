//! Elementwise ops: unary maps, binary ops with NumPy broadcasting, comparisons and `where`.
//!
//! Backward rules of binary ops compute the full-shape gradient and reduce it back to each
//! input's shape with [`sum_to_shape`](crate::ops::sum_to_shape), so broadcasting is
//! differentiable everywhere (CBN's per-sample γ, the discriminator's projection).

mod cpu;
pub(crate) mod gpu;
mod reference;

use super::float::Float;
use super::{any_tracked, gpu_or_reference, path_of, require_float, require_same, Path};
use crate::autograd::record;
use crate::{DType, Error, Result, Shape, Tensor};

/// A unary elementwise function with its derivative.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    Neg,
    Relu,
    Tanh,
    Sigmoid,
    /// log(1 + eˣ), linear above 20 as PyTorch (β = 1, threshold 20).
    Softplus,
    /// Derivative sign(x), 0 at 0.
    Abs,
    Square,
    Exp,
    Log,
    Sqrt,
    /// Clamp to [lo, hi]; the gradient passes where lo ≤ x ≤ hi and is 0 outside.
    Clamp(f64, f64),
    AddScalar(f64),
    MulScalar(f64),
    /// The indicator `x ≥ t` as 1.0 or 0.0 (NaN → 0): a bin that can weight other tensors on
    /// the device; the derivative is 0.
    AtLeast(f64),
}

impl Unary {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Unary::Neg => "neg",
            Unary::Relu => "relu",
            Unary::Tanh => "tanh",
            Unary::Sigmoid => "sigmoid",
            Unary::Softplus => "softplus",
            Unary::Abs => "abs",
            Unary::Square => "square",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Sqrt => "sqrt",
            Unary::Clamp(..) => "clamp",
            Unary::AddScalar(_) => "add_scalar",
            Unary::MulScalar(_) => "mul_scalar",
            Unary::AtLeast(_) => "at_least",
        }
    }

    #[inline(always)]
    pub(crate) fn apply<T: Float>(self, x: T) -> T {
        match self {
            Unary::Neg => -x,
            Unary::Relu => {
                // Written so that NaN propagates.
                if x <= T::ZERO {
                    T::ZERO
                } else {
                    x
                }
            }
            Unary::Tanh => x.tanh(),
            Unary::Sigmoid => sigmoid_stable(x),
            Unary::Softplus => {
                if x > T::of(20.0) {
                    x
                } else {
                    // max(x,0) + log1p(e^-|x|): stable for large negative x too.
                    x.max(T::ZERO) + (-x.abs()).exp().ln_1p()
                }
            }
            Unary::Abs => x.abs(),
            Unary::Square => x * x,
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Sqrt => x.sqrt(),
            Unary::Clamp(lo, hi) => {
                // NaN propagates: comparisons with NaN are false.
                if x < T::of(lo) {
                    T::of(lo)
                } else if x > T::of(hi) {
                    T::of(hi)
                } else {
                    x
                }
            }
            Unary::AddScalar(s) => x + T::of(s),
            Unary::MulScalar(s) => x * T::of(s),
            Unary::AtLeast(t) => {
                if x >= T::of(t) {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
        }
    }

    /// True when `derivative` reads only the output y (ReLU's test x > 0 is y > 0), so the
    /// backward keeps y alone and passes it as both arguments; otherwise it reads only x and
    /// the backward keeps x alone.
    pub(crate) fn derivative_from_output(self) -> bool {
        matches!(
            self,
            Unary::Relu | Unary::Tanh | Unary::Sigmoid | Unary::Exp | Unary::Sqrt
        )
    }

    /// d f / d x at input `x` with output `y`.
    #[inline(always)]
    pub(crate) fn derivative<T: Float>(self, x: T, y: T) -> T {
        match self {
            Unary::Neg => -T::ONE,
            Unary::Relu => {
                if x > T::ZERO {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
            Unary::Tanh => T::ONE - y * y,
            Unary::Sigmoid => y * (T::ONE - y),
            Unary::Softplus => {
                if x > T::of(20.0) {
                    T::ONE
                } else {
                    sigmoid_stable(x)
                }
            }
            Unary::Abs => {
                if x > T::ZERO {
                    T::ONE
                } else if x < T::ZERO {
                    -T::ONE
                } else {
                    T::ZERO
                }
            }
            Unary::Square => T::of(2.0) * x,
            Unary::Exp => y,
            Unary::Log => T::ONE / x,
            Unary::Sqrt => T::of(0.5) / y,
            Unary::Clamp(lo, hi) => {
                if x >= T::of(lo) && x <= T::of(hi) {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
            Unary::AddScalar(_) => T::ONE,
            Unary::MulScalar(s) => T::of(s),
            Unary::AtLeast(_) => T::ZERO,
        }
    }
}

#[inline(always)]
pub(crate) fn sigmoid_stable<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

/// Applies a unary function elementwise (recorded on the tape).
pub fn unary(x: &Tensor, op: Unary) -> Result<Tensor> {
    require_float(op.name(), x)?;
    if let Unary::Clamp(lo, hi) = op {
        if lo > hi || lo.is_nan() || hi.is_nan() {
            return Err(Error::Invalid(format!(
                "clamp: lower bound {lo} is above upper bound {hi}"
            )));
        }
    }
    let y = match path_of(x) {
        Path::Cpu => cpu::unary_fwd(x, op),
        Path::Gpu => gpu_or_reference(gpu::unary_fwd(x, op), || reference::unary_fwd(x, op))?,
        Path::Reference => reference::unary_fwd(x, op),
    };
    if !any_tracked(&[x]) {
        return Ok(y);
    }
    // One tensor is kept for the backward, passed as both x and y: the output when the
    // derivative is a function of it, else the input (so a ReLU after a batch norm does not
    // keep the batch norm's output alive as well as its own).
    let kept = if op.derivative_from_output() {
        y.clone()
    } else {
        x.detach()
    };
    record(
        op.name(),
        &[x],
        y,
        Box::new(move |g, _| {
            let gx = match path_of(&kept) {
                Path::Cpu => cpu::unary_bwd(&kept, &kept, g, op),
                Path::Gpu => gpu_or_reference(gpu::unary_bwd(&kept, &kept, g, op), || {
                    reference::unary_bwd(&kept, &kept, g, op)
                })?,
                Path::Reference => reference::unary_bwd(&kept, &kept, g, op),
            };
            Ok(vec![Some(gx)])
        }),
    )
}

pub fn neg(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::Neg)
}
pub fn relu(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::Relu)
}
pub fn tanh(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::Tanh)
}
pub fn sigmoid(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::Sigmoid)
}
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::Softplus)
}
pub fn abs(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::Abs)
}
pub fn square(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::Square)
}
pub fn exp(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::Exp)
}
pub fn log(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::Log)
}
pub fn sqrt(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::Sqrt)
}
pub fn clamp(x: &Tensor, lo: f64, hi: f64) -> Result<Tensor> {
    unary(x, Unary::Clamp(lo, hi))
}
/// 1.0 where `x ≥ t`, else 0.0 (NaN → 0), in `x`'s dtype and on its device; no gradient flows
/// through it (a class bin computed where the values are).
pub fn at_least(x: &Tensor, t: f64) -> Result<Tensor> {
    if t.is_nan() {
        return Err(Error::Invalid("at_least: the threshold is NaN".into()));
    }
    unary(x, Unary::AtLeast(t))
}
pub fn add_scalar(x: &Tensor, s: f64) -> Result<Tensor> {
    unary(x, Unary::AddScalar(s))
}
pub fn mul_scalar(x: &Tensor, s: f64) -> Result<Tensor> {
    unary(x, Unary::MulScalar(s))
}

/// A binary elementwise operation with broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

impl Binary {
    fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Max => "maximum",
            Binary::Min => "minimum",
        }
    }
    #[inline(always)]
    pub(crate) fn apply<T: Float>(self, a: T, b: T) -> T {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
            // NaN-propagating, like torch.maximum / minimum.
            Binary::Max => {
                if a.is_nan() || a >= b {
                    a
                } else {
                    b
                }
            }
            Binary::Min => {
                if a.is_nan() || a <= b {
                    a
                } else {
                    b
                }
            }
        }
    }
}

fn binary(a: &Tensor, b: &Tensor, op: Binary) -> Result<Tensor> {
    require_float(op.name(), a)?;
    require_float(op.name(), b)?;
    require_same(op.name(), a, b)?;
    let out_shape = a.shape().broadcast(b.shape(), op.name())?;
    let y = match path_of(a) {
        Path::Cpu => cpu::binary_fwd(a, b, &out_shape, op),
        Path::Gpu => gpu_or_reference(gpu::binary_fwd(a, b, &out_shape, op), || {
            reference::binary_fwd(a, b, &out_shape, op)
        })?,
        Path::Reference => reference::binary_fwd(a, b, &out_shape, op),
    };
    if !any_tracked(&[a, b]) {
        return Ok(y);
    }
    let (ad, bd) = (a.detach(), b.detach());
    record(
        op.name(),
        &[a, b],
        y,
        Box::new(move |g, needs| {
            let (sa, sb) = (ad.shape().clone(), bd.shape().clone());
            let (ga, gb) = match op {
                Binary::Add => (g.clone(), g.clone()),
                Binary::Sub => (g.clone(), neg(g)?),
                Binary::Mul => (mul(g, &bd)?, mul(g, &ad)?),
                Binary::Div => {
                    let ga = div(g, &bd)?;
                    let gb = neg(&mul(&ga, &div(&ad, &bd)?)?)?;
                    (ga, gb)
                }
                Binary::Max | Binary::Min => {
                    // Ties send the gradient to `a`, as torch does for half of it; documented.
                    let pick_a = if op == Binary::Max {
                        ge(&ad, &bd)?
                    } else {
                        le(&ad, &bd)?
                    };
                    let zero = Tensor::zeros(Shape(vec![]), g.dtype(), g.device());
                    (where_(&pick_a, g, &zero)?, where_(&pick_a, &zero, g)?)
                }
            };
            Ok(vec![
                if needs[0] {
                    Some(super::sum_to_shape(&ga, &sa)?)
                } else {
                    None
                },
                if needs[1] {
                    Some(super::sum_to_shape(&gb, &sb)?)
                } else {
                    None
                },
            ])
        }),
    )
}

pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, Binary::Add)
}
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, Binary::Sub)
}
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, Binary::Mul)
}
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, Binary::Div)
}
/// Elementwise maximum (ties route the gradient to `a`).
pub fn maximum(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, Binary::Max)
}
/// Elementwise minimum (ties route the gradient to `a`).
pub fn minimum(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, Binary::Min)
}

/// A comparison producing a u8 mask (1 where true), broadcasting; not differentiable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compare {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

impl Compare {
    #[inline(always)]
    pub(crate) fn apply(self, a: f64, b: f64) -> bool {
        match self {
            Compare::Gt => a > b,
            Compare::Ge => a >= b,
            Compare::Lt => a < b,
            Compare::Le => a <= b,
            Compare::Eq => a == b,
        }
    }
}

fn compare(a: &Tensor, b: &Tensor, op: Compare) -> Result<Tensor> {
    require_same("compare", a, b)?;
    let out_shape = a.shape().broadcast(b.shape(), "compare")?;
    Ok(match (path_of(a), path_of(b)) {
        (Path::Cpu, Path::Cpu) => cpu::compare(a, b, &out_shape, op),
        (Path::Gpu, Path::Gpu) => gpu_or_reference(gpu::compare(a, b, &out_shape, op), || {
            reference::compare(a, b, &out_shape, op)
        })?,
        _ => reference::compare(a, b, &out_shape, op),
    })
}
pub fn gt(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(a, b, Compare::Gt)
}
pub fn ge(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(a, b, Compare::Ge)
}
pub fn lt(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(a, b, Compare::Lt)
}
pub fn le(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(a, b, Compare::Le)
}
pub fn eq(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(a, b, Compare::Eq)
}

/// `cond ? a : b` elementwise with broadcasting over all three; `cond` is a u8 mask.
/// Differentiable in `a` and `b`.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if cond.dtype() != DType::U8 {
        return Err(Error::DType(format!(
            "where: the condition must be a u8 mask (from a comparison), got {}",
            cond.dtype()
        )));
    }
    require_float("where", a)?;
    require_same("where", a, b)?;
    if cond.device() != a.device() {
        return Err(Error::Device(format!(
            "where: condition on {} but values on {}",
            cond.device(),
            a.device()
        )));
    }
    let shape = cond
        .shape()
        .broadcast(a.shape(), "where")?
        .broadcast(b.shape(), "where")?;
    let y = match path_of(a) {
        Path::Cpu => {
            cpu::where_(cond, a, b, &shape).unwrap_or_else(|| reference::where_(cond, a, b, &shape))
        }
        Path::Gpu => gpu_or_reference(gpu::where_(cond, a, b, &shape), || {
            reference::where_(cond, a, b, &shape)
        })?,
        Path::Reference => reference::where_(cond, a, b, &shape),
    };
    if !any_tracked(&[a, b]) {
        return Ok(y);
    }
    let (c, sa, sb) = (cond.detach(), a.shape().clone(), b.shape().clone());
    record(
        "where",
        &[a, b],
        y,
        Box::new(move |g, needs| {
            let zero = Tensor::zeros(Shape(vec![]), g.dtype(), g.device());
            let ga = if needs[0] {
                Some(super::sum_to_shape(&where_(&c, g, &zero)?, &sa)?)
            } else {
                None
            };
            let gb = if needs[1] {
                Some(super::sum_to_shape(&where_(&c, &zero, g)?, &sb)?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        }),
    )
}

/// Offsets of output element `linear` in each broadcast operand (naive div/mod walk).
#[inline]
pub(crate) fn broadcast_offset(mut linear: usize, dims: &[usize], strides: &[usize]) -> usize {
    let mut off = 0;
    for d in (0..dims.len()).rev() {
        let i = linear % dims[d];
        linear /= dims[d];
        off += i * strides[d];
    }
    off
}
