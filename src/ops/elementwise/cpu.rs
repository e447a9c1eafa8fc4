//! Fast f32 elementwise loops: rayon over fixed chunks; the op is matched once, outside the
//! loop, so each op gets its own vectorisable loop. Broadcasting walks rows of the last
//! dimension with per-row base offsets, with fast paths for equal shapes and a scalar operand.

use super::{broadcast_offset, Binary, Compare, Unary};
use crate::ops::from_f32_like;
use crate::{Shape, Tensor};
use rayon::prelude::*;

const CHUNK: usize = 1 << 14;

/// Calls `$body` with `$o` bound to a value of the op whose variant is known at compile time in
/// each arm (so `$o().apply(..)` folds to the one function).
macro_rules! each_unary {
    ($op:expr, $o:ident => $body:expr) => {
        match $op {
            Unary::Neg => {
                let $o = move || Unary::Neg;
                $body
            }
            Unary::Relu => {
                let $o = move || Unary::Relu;
                $body
            }
            Unary::Tanh => {
                let $o = move || Unary::Tanh;
                $body
            }
            Unary::Sigmoid => {
                let $o = move || Unary::Sigmoid;
                $body
            }
            Unary::Softplus => {
                let $o = move || Unary::Softplus;
                $body
            }
            Unary::Abs => {
                let $o = move || Unary::Abs;
                $body
            }
            Unary::Square => {
                let $o = move || Unary::Square;
                $body
            }
            Unary::Exp => {
                let $o = move || Unary::Exp;
                $body
            }
            Unary::Log => {
                let $o = move || Unary::Log;
                $body
            }
            Unary::Sqrt => {
                let $o = move || Unary::Sqrt;
                $body
            }
            Unary::Clamp(lo, hi) => {
                let $o = move || Unary::Clamp(lo, hi);
                $body
            }
            Unary::AddScalar(s) => {
                let $o = move || Unary::AddScalar(s);
                $body
            }
            Unary::MulScalar(s) => {
                let $o = move || Unary::MulScalar(s);
                $body
            }
            Unary::AtLeast(t) => {
                let $o = move || Unary::AtLeast(t);
                $body
            }
        }
    };
}

macro_rules! each_binary {
    ($op:expr, $o:ident => $body:expr) => {
        match $op {
            Binary::Add => {
                let $o = move || Binary::Add;
                $body
            }
            Binary::Sub => {
                let $o = move || Binary::Sub;
                $body
            }
            Binary::Mul => {
                let $o = move || Binary::Mul;
                $body
            }
            Binary::Div => {
                let $o = move || Binary::Div;
                $body
            }
            Binary::Max => {
                let $o = move || Binary::Max;
                $body
            }
            Binary::Min => {
                let $o = move || Binary::Min;
                $body
            }
        }
    };
}

fn map1(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = crate::tensor::recycler::overwritten(x.len());
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(o, x)| {
            for (d, &a) in o.iter_mut().zip(x) {
                *d = f(a);
            }
        });
    out
}

fn map2(x: &[f32], y: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = crate::tensor::recycler::overwritten(x.len());
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(y.par_chunks(CHUNK)))
        .for_each(|(o, (x, y))| {
            for ((d, &a), &b) in o.iter_mut().zip(x).zip(y) {
                *d = f(a, b);
            }
        });
    out
}

fn map3(x: &[f32], y: &[f32], g: &[f32], f: impl Fn(f32, f32, f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = crate::tensor::recycler::overwritten(x.len());
    out.par_chunks_mut(CHUNK)
        .zip(
            x.par_chunks(CHUNK)
                .zip(y.par_chunks(CHUNK))
                .zip(g.par_chunks(CHUNK)),
        )
        .for_each(|(o, ((x, y), g))| {
            for (((d, &a), &b), &c) in o.iter_mut().zip(x).zip(y).zip(g) {
                *d = f(a, b, c);
            }
        });
    out
}

pub(super) fn unary_fwd(x: &Tensor, op: Unary) -> Tensor {
    let v = x.host_f32(|xs| each_unary!(op, o => map1(xs, move |a| o().apply(a))));
    from_f32_like(v, x.shape().clone(), x)
}

pub(super) fn unary_bwd(x: &Tensor, y: &Tensor, g: &Tensor, op: Unary) -> Tensor {
    let v = x
        .host_f32(|xs| {
            y.host_f32(|ys| {
                g.host_f32(|gs| each_unary!(op, o => map3(xs, ys, gs, move |a, b, d| d * o().derivative(a, b))))
            })
        });
    from_f32_like(v, x.shape().clone(), x)
}

pub(super) fn binary_fwd(a: &Tensor, b: &Tensor, out: &Shape, op: Binary) -> Tensor {
    let v: Vec<f32> = a
        .host_f32(|av| {
            b.host_f32(|bv| {
                each_binary!(op, o => zip2(av, a.shape(), bv, b.shape(), out, move |x, y| o().apply(x, y)))
            })
        });
    from_f32_like(v, out.clone(), a)
}

/// A comparison into a u8 mask (1 where true), broadcasting.
pub(super) fn compare(a: &Tensor, b: &Tensor, out: &Shape, op: Compare) -> Tensor {
    let v: Vec<u8> = a.host_f32(|av| {
        b.host_f32(|bv| {
            let f = move |x: f32, y: f32| op.apply(x as f64, y as f64) as u8 as f32;
            let m = zip2(av, a.shape(), bv, b.shape(), out, f);
            let bytes = m.iter().map(|&e| e as u8).collect();
            crate::tensor::recycler::recycle(m);
            bytes
        })
    });
    Tensor::from_u8(v, out.clone(), a.device()).expect("sized")
}

/// `cond ? a : b` when `cond` has the output's shape and `a`, `b` each have it or are scalars
/// (the shapes of the COIN losses and of every backward); None otherwise.
pub(super) fn where_(c: &Tensor, a: &Tensor, b: &Tensor, out: &Shape) -> Option<Tensor> {
    let fits = |t: &Tensor| t.shape() == out || t.numel() == 1;
    if c.shape() != out || !fits(a) || !fits(b) {
        return None;
    }
    let pick = |v: &[f32], i: usize| if v.len() == 1 { v[0] } else { v[i] };
    let v = c
        .with_u8(|cv| {
            a.host_f32(|av| {
                b.host_f32(|bv| {
                    let mut o = crate::tensor::recycler::overwritten(cv.len());
                    o.par_chunks_mut(CHUNK).enumerate().for_each(|(k, chunk)| {
                        let base = k * CHUNK;
                        for (j, d) in chunk.iter_mut().enumerate() {
                            let i = base + j;
                            *d = if cv[i] != 0 { pick(av, i) } else { pick(bv, i) };
                        }
                    });
                    o
                })
            })
        })
        .ok()?;
    Some(from_f32_like(v, out.clone(), a))
}

/// `f` over two broadcast operands: equal shapes and a scalar operand in parallel chunks, other
/// broadcasts row by row.
fn zip2(
    av: &[f32],
    sa: &Shape,
    bv: &[f32],
    sb: &Shape,
    out: &Shape,
    f: impl Fn(f32, f32) -> f32 + Sync + Copy,
) -> Vec<f32> {
    if sa == out && sb == out {
        map2(av, bv, f)
    } else if bv.len() == 1 && sa == out {
        let y = bv[0];
        map1(av, move |x| f(x, y))
    } else if av.len() == 1 && sb == out {
        let x = av[0];
        map1(bv, move |y| f(x, y))
    } else {
        general(av, sa, bv, sb, out, f)
    }
}

fn general(
    av: &[f32],
    sa: &Shape,
    bv: &[f32],
    sb: &Shape,
    out: &Shape,
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> Vec<f32> {
    let dims = out.dims();
    let last = *dims.last().unwrap_or(&1);
    let (ta, tb) = (sa.broadcast_strides(out), sb.broadcast_strides(out));
    let (la, lb) = (*ta.last().unwrap_or(&0), *tb.last().unwrap_or(&0));
    let mut v = crate::tensor::recycler::overwritten(out.numel());
    v.par_chunks_mut(last.max(1))
        .enumerate()
        .for_each(|(row, o)| {
            let base = row * last;
            let (oa, ob) = (
                broadcast_offset(base, dims, &ta),
                broadcast_offset(base, dims, &tb),
            );
            match (la, lb) {
                (1, 1) => {
                    for ((d, &x), &y) in
                        o.iter_mut().zip(&av[oa..oa + last]).zip(&bv[ob..ob + last])
                    {
                        *d = f(x, y);
                    }
                }
                (1, 0) => {
                    let y = bv[ob];
                    for (d, &x) in o.iter_mut().zip(&av[oa..oa + last]) {
                        *d = f(x, y);
                    }
                }
                (0, 1) => {
                    let x = av[oa];
                    for (d, &y) in o.iter_mut().zip(&bv[ob..ob + last]) {
                        *d = f(x, y);
                    }
                }
                _ => {
                    for (j, d) in o.iter_mut().enumerate() {
                        *d = f(av[oa + j * la], bv[ob + j * lb]);
                    }
                }
            }
        });
    v
}
