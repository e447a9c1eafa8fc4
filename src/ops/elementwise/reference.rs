//! Reference elementwise loops: f64, one element at a time, broadcasting by div/mod.

use super::{broadcast_offset, Binary, Compare, Unary};
use crate::ops::from_f64_like;
use crate::{Shape, Tensor};

pub(super) fn unary_fwd(x: &Tensor, op: Unary) -> Tensor {
    let v: Vec<f64> = x.to_vec_f64().into_iter().map(|a| op.apply(a)).collect();
    from_f64_like(&v, x.shape().clone(), x)
}

pub(super) fn unary_bwd(x: &Tensor, y: &Tensor, g: &Tensor, op: Unary) -> Tensor {
    let (xv, yv, gv) = (x.to_vec_f64(), y.to_vec_f64(), g.to_vec_f64());
    let v: Vec<f64> = (0..xv.len())
        .map(|i| gv[i] * op.derivative(xv[i], yv[i]))
        .collect();
    from_f64_like(&v, x.shape().clone(), x)
}

fn walk2(a: &Tensor, b: &Tensor, out: &Shape, mut f: impl FnMut(f64, f64)) {
    let (av, bv) = (a.to_vec_f64(), b.to_vec_f64());
    let (sa, sb) = (
        a.shape().broadcast_strides(out),
        b.shape().broadcast_strides(out),
    );
    for i in 0..out.numel() {
        f(
            av[broadcast_offset(i, out.dims(), &sa)],
            bv[broadcast_offset(i, out.dims(), &sb)],
        );
    }
}

pub(super) fn binary_fwd(a: &Tensor, b: &Tensor, out: &Shape, op: Binary) -> Tensor {
    let mut v = Vec::with_capacity(out.numel());
    walk2(a, b, out, |x, y| v.push(op.apply(x, y)));
    from_f64_like(&v, out.clone(), a)
}

pub(super) fn compare(a: &Tensor, b: &Tensor, out: &Shape, op: Compare) -> Tensor {
    let mut v = Vec::with_capacity(out.numel());
    walk2(a, b, out, |x, y| v.push(op.apply(x, y) as u8));
    Tensor::from_u8(v, out.clone(), a.device()).expect("sized")
}

pub(super) fn where_(c: &Tensor, a: &Tensor, b: &Tensor, out: &Shape) -> Tensor {
    let (cv, av, bv) = (c.to_vec_f64(), a.to_vec_f64(), b.to_vec_f64());
    let sc = c.shape().broadcast_strides(out);
    let sa = a.shape().broadcast_strides(out);
    let sb = b.shape().broadcast_strides(out);
    let d = out.dims();
    let v: Vec<f64> = (0..out.numel())
        .map(|i| {
            if cv[broadcast_offset(i, d, &sc)] != 0.0 {
                av[broadcast_offset(i, d, &sa)]
            } else {
                bv[broadcast_offset(i, d, &sb)]
            }
        })
        .collect();
    from_f64_like(&v, out.clone(), a)
}
