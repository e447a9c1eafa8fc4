//! Sums and means: over all elements, over chosen axes (per channel = axes [0, 2, 3], per sample
//! = axes [1, 2, 3]), and the broadcast pair `broadcast_to` / `sum_to_shape`.
//!
//! Determinism: every output element is summed by one thread in a fixed order (f64
//! accumulation); a full reduction sums fixed-size chunks and then the chunk sums in order, so
//! results do not depend on the thread count.

mod cpu;
pub(crate) mod gpu;
mod reference;

use super::{any_tracked, gpu_or_reference, path_of, require_float, Path};
use crate::autograd::record;
use crate::{Error, Result, Shape, Tensor};

/// The reduction described by a shape and a set of axes.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub dims: Vec<usize>,
    pub reduced: Vec<bool>,
}

impl Plan {
    fn new(shape: &Shape, axes: &[usize]) -> Plan {
        let mut reduced = vec![false; shape.rank()];
        for &a in axes {
            reduced[a] = true;
        }
        Plan {
            dims: shape.dims().to_vec(),
            reduced,
        }
    }
    /// Output shape with reduced axes kept as 1.
    pub fn kept_shape(&self) -> Shape {
        Shape(
            self.dims
                .iter()
                .zip(&self.reduced)
                .map(|(&d, &r)| if r { 1 } else { d })
                .collect(),
        )
    }
}

fn normalise_axes(t: &Tensor, axes: &[isize], op: &str) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = t.shape().axis(a, op)?;
        if out.contains(&a) {
            return Err(Error::Shape(format!("{op}: axis {a} given twice")));
        }
        out.push(a);
    }
    Ok(out)
}

/// Sum over `axes` (negative axes count from the end). With `keepdim` the reduced axes stay as
/// size 1; otherwise they are removed.
pub fn sum(t: &Tensor, axes: &[isize], keepdim: bool) -> Result<Tensor> {
    require_float("sum", t)?;
    let axes = normalise_axes(t, axes, "sum")?;
    let plan = Plan::new(t.shape(), &axes);
    let kept = plan.kept_shape();
    let y = match path_of(t) {
        Path::Cpu => cpu::sum(t, &plan),
        Path::Gpu => gpu_or_reference(gpu::sum(t, &plan), || reference::sum(t, &plan))?,
        Path::Reference => reference::sum(t, &plan),
    };
    let out_shape = if keepdim {
        kept.clone()
    } else {
        Shape(
            plan.dims
                .iter()
                .zip(&plan.reduced)
                .filter(|(_, &r)| !r)
                .map(|(&d, _)| d)
                .collect(),
        )
    };
    let y = y.view_as(out_shape, 0);
    if !any_tracked(&[t]) {
        return Ok(y);
    }
    let in_shape = t.shape().clone();
    record(
        "sum",
        &[t],
        y,
        Box::new(move |g, _| {
            let g = g.view_as(kept.clone(), 0);
            Ok(vec![Some(broadcast_to(&g, &in_shape)?)])
        }),
    )
}

/// Mean over `axes`.
pub fn mean(t: &Tensor, axes: &[isize], keepdim: bool) -> Result<Tensor> {
    let s = sum(t, axes, keepdim)?;
    let n = (t.numel() / s.numel().max(1)) as f64;
    super::mul_scalar(&s, 1.0 / n)
}

/// Sum of every element, as a 0-d tensor.
pub fn sum_all(t: &Tensor) -> Result<Tensor> {
    let axes: Vec<isize> = (0..t.rank() as isize).collect();
    sum(t, &axes, false)
}

/// Mean of every element, as a 0-d tensor.
pub fn mean_all(t: &Tensor) -> Result<Tensor> {
    let axes: Vec<isize> = (0..t.rank() as isize).collect();
    mean(t, &axes, false)
}

/// Repeats `t` along broadcast axes to `shape` (NumPy rules). Backward sums back.
pub fn broadcast_to(t: &Tensor, shape: &Shape) -> Result<Tensor> {
    require_float("broadcast_to", t)?;
    let b = t.shape().broadcast(shape, "broadcast_to")?;
    if &b != shape {
        return Err(Error::Shape(format!(
            "broadcast_to: {} cannot broadcast to {shape}",
            t.shape()
        )));
    }
    if t.shape() == shape {
        return Ok(t.clone());
    }
    let y = match path_of(t) {
        Path::Cpu => cpu::broadcast_to(t, shape),
        Path::Gpu => gpu_or_reference(gpu::broadcast_to(t, shape), || {
            reference::broadcast_to(t, shape)
        })?,
        Path::Reference => reference::broadcast_to(t, shape),
    };
    if !any_tracked(&[t]) {
        return Ok(y);
    }
    let in_shape = t.shape().clone();
    record(
        "broadcast_to",
        &[t],
        y,
        Box::new(move |g, _| Ok(vec![Some(sum_to_shape(g, &in_shape)?)])),
    )
}

/// Sums `t` down to `shape`, the inverse of broadcasting (`shape` must broadcast to `t`'s).
pub fn sum_to_shape(t: &Tensor, shape: &Shape) -> Result<Tensor> {
    if t.shape() == shape {
        return Ok(t.clone());
    }
    let b = shape.broadcast(t.shape(), "sum_to_shape")?;
    if &b != t.shape() {
        return Err(Error::Shape(format!(
            "sum_to_shape: {shape} does not broadcast to {}",
            t.shape()
        )));
    }
    let lead = t.rank() - shape.rank();
    let axes: Vec<isize> = (0..t.rank())
        .filter(|&i| i < lead || (shape.dims()[i - lead] == 1 && t.dims()[i] != 1))
        .map(|i| i as isize)
        .collect();
    let s = sum(t, &axes, true)?;
    super::reshape(&s, shape.dims())
}
