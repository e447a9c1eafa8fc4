//! Shape ops: reshape (a view), narrow along an axis (a view along the outermost non-trivial
//! axis, a copy elsewhere), concatenation and split. Backward rules: reshape back; narrow
//! scatters into zeros; cat narrows the gradient per input.

mod cpu;
pub(crate) mod gpu;
mod reference;

use super::{any_tracked, gpu_or_reference, path_of, Path};
use crate::autograd::record;
use crate::{Error, Result, Shape, Tensor};

/// (outer, axis, inner) extents of `shape` around `axis`.
pub(crate) fn blocks(shape: &Shape, axis: usize) -> (usize, usize, usize) {
    let d = shape.dims();
    (
        d[..axis].iter().product(),
        d[axis],
        d[axis + 1..].iter().product(),
    )
}

/// The same elements with another shape (one dimension may be `usize::MAX` to infer it).
pub fn reshape(t: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let mut dims = dims.to_vec();
    if let Some(pos) = dims.iter().position(|&d| d == usize::MAX) {
        let known: usize = dims.iter().filter(|&&d| d != usize::MAX).product();
        if known == 0 || !t.numel().is_multiple_of(known) {
            return Err(Error::Shape(format!(
                "reshape: cannot infer a dimension of {:?} for {}",
                dims,
                t.shape()
            )));
        }
        dims[pos] = t.numel() / known;
    }
    let shape = Shape(dims);
    if shape.numel() != t.numel() {
        return Err(Error::Shape(format!(
            "reshape: {} has {} elements, {shape} has {}",
            t.shape(),
            t.numel(),
            shape.numel()
        )));
    }
    if &shape == t.shape() {
        return Ok(t.clone());
    }
    let y = t.view_as(shape, 0);
    if !any_tracked(&[t]) {
        return Ok(y);
    }
    let in_shape = t.shape().clone();
    record(
        "reshape",
        &[t],
        y,
        Box::new(move |g, _| Ok(vec![Some(g.view_as(in_shape, 0))])),
    )
}

/// Elements `start .. start + len` along `axis`. A view (no copy) when every axis before
/// `axis` has size 1 (e.g. narrowing the batch); a copy otherwise.
pub fn narrow(t: &Tensor, axis: isize, start: usize, len: usize) -> Result<Tensor> {
    let a = t.shape().axis(axis, "narrow")?;
    let d = t.dims()[a];
    if len == 0 || start + len > d {
        return Err(Error::Shape(format!(
            "narrow: range {start}..{} is empty or outside axis {a} of size {d} (shape {})",
            start + len,
            t.shape()
        )));
    }
    let mut dims = t.dims().to_vec();
    dims[a] = len;
    let out_shape = Shape(dims);
    let (outer, _, inner) = blocks(t.shape(), a);
    let y = if outer == 1 {
        t.view_as(out_shape, start * inner)
    } else {
        match path_of(t) {
            Path::Cpu => cpu::narrow(t, a, start, len, &out_shape),
            Path::Gpu => gpu_or_reference(gpu::narrow(t, a, start, len, &out_shape), || {
                reference::narrow(t, a, start, len, &out_shape)
            })?,
            Path::Reference => reference::narrow(t, a, start, len, &out_shape),
        }
    };
    if !any_tracked(&[t]) {
        return Ok(y);
    }
    let in_shape = t.shape().clone();
    record(
        "narrow",
        &[t],
        y,
        Box::new(move |g, _| {
            let gx = match path_of(g) {
                Path::Cpu => cpu::unnarrow(g, a, start, &in_shape),
                Path::Gpu => gpu_or_reference(gpu::unnarrow(g, a, start, &in_shape), || {
                    reference::unnarrow(g, a, start, &in_shape)
                })?,
                Path::Reference => reference::unnarrow(g, a, start, &in_shape),
            };
            Ok(vec![Some(gx)])
        }),
    )
}

/// Concatenates tensors along `axis` (all other dimensions equal).
pub fn cat(ts: &[&Tensor], axis: isize) -> Result<Tensor> {
    let first = ts
        .first()
        .ok_or_else(|| Error::Invalid("cat: no tensors given".into()))?;
    let a = first.shape().axis(axis, "cat")?;
    for t in &ts[1..] {
        super::require_same("cat", first, t)?;
        let ok = t.rank() == first.rank()
            && t.dims()
                .iter()
                .zip(first.dims())
                .enumerate()
                .all(|(i, (x, y))| i == a || x == y);
        if !ok {
            return Err(Error::Shape(format!(
                "cat along axis {a}: shapes {} and {} differ off that axis",
                first.shape(),
                t.shape()
            )));
        }
    }
    let mut dims = first.dims().to_vec();
    dims[a] = ts.iter().map(|t| t.dims()[a]).sum();
    let out_shape = Shape(dims);
    let y = match path_of(first) {
        Path::Cpu => cpu::cat(ts, a, &out_shape),
        Path::Gpu => gpu_or_reference(gpu::cat(ts, a, &out_shape), || {
            reference::cat(ts, a, &out_shape)
        })?,
        Path::Reference => reference::cat(ts, a, &out_shape),
    };
    if !any_tracked(ts) {
        return Ok(y);
    }
    let sizes: Vec<usize> = ts.iter().map(|t| t.dims()[a]).collect();
    record(
        "cat",
        ts,
        y,
        Box::new(move |g, needs| {
            let mut out = Vec::with_capacity(sizes.len());
            let mut start = 0;
            for (&n, &need) in sizes.iter().zip(needs) {
                out.push(if need {
                    Some(narrow(g, a as isize, start, n)?)
                } else {
                    None
                });
                start += n;
            }
            Ok(out)
        }),
    )
}

/// Splits along `axis` into pieces of the given sizes (which must add up to the axis).
pub fn split(t: &Tensor, sizes: &[usize], axis: isize) -> Result<Vec<Tensor>> {
    let a = t.shape().axis(axis, "split")?;
    if sizes.iter().sum::<usize>() != t.dims()[a] {
        return Err(Error::Shape(format!(
            "split: sizes {sizes:?} do not add up to axis {a} of shape {}",
            t.shape()
        )));
    }
    let mut start = 0;
    let mut out = Vec::with_capacity(sizes.len());
    for &n in sizes {
        out.push(narrow(t, a as isize, start, n)?);
        start += n;
    }
    Ok(out)
}
