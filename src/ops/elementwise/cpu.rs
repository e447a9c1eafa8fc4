//! Fast f32 elementwise loops: rayon over chunks; broadcasting walks rows of the last dimension
//! with per-row base offsets, with fast paths for equal shapes and a scalar operand.

use super::{broadcast_offset, Binary, Unary};
use crate::ops::from_f32_like;
use crate::{Shape, Tensor};
use rayon::prelude::*;

const MIN_CHUNK: usize = 4096;

pub(super) fn unary_fwd(x: &Tensor, op: Unary) -> Tensor {
    let v = x
        .with_f32(|xs| {
            xs.par_iter()
                .with_min_len(MIN_CHUNK)
                .map(|&a| op.apply(a))
                .collect()
        })
        .expect("f32");
    from_f32_like(v, x.shape().clone(), x)
}

pub(super) fn unary_bwd(x: &Tensor, y: &Tensor, g: &Tensor, op: Unary) -> Tensor {
    let v = x
        .with_f32(|xs| {
            y.with_f32(|ys| {
                g.with_f32(|gs| {
                    (xs, ys, gs)
                        .into_par_iter()
                        .with_min_len(MIN_CHUNK)
                        .map(|(&a, &b, &d)| d * op.derivative(a, b))
                        .collect()
                })
            })
        })
        .expect("f32")
        .expect("f32")
        .expect("f32");
    from_f32_like(v, x.shape().clone(), x)
}

pub(super) fn binary_fwd(a: &Tensor, b: &Tensor, out: &Shape, op: Binary) -> Tensor {
    let n = out.numel();
    let v: Vec<f32> = a
        .with_f32(|av| {
            b.with_f32(|bv| {
                if a.shape() == out && b.shape() == out {
                    (av, bv)
                        .into_par_iter()
                        .with_min_len(MIN_CHUNK)
                        .map(|(&x, &y)| op.apply(x, y))
                        .collect()
                } else if bv.len() == 1 && a.shape() == out {
                    let y = bv[0];
                    av.par_iter()
                        .with_min_len(MIN_CHUNK)
                        .map(|&x| op.apply(x, y))
                        .collect()
                } else if av.len() == 1 && b.shape() == out {
                    let x = av[0];
                    bv.par_iter()
                        .with_min_len(MIN_CHUNK)
                        .map(|&y| op.apply(x, y))
                        .collect()
                } else {
                    general(av, a.shape(), bv, b.shape(), out, n, op)
                }
            })
        })
        .expect("f32")
        .expect("f32");
    from_f32_like(v, out.clone(), a)
}

fn general(
    av: &[f32],
    sa: &Shape,
    bv: &[f32],
    sb: &Shape,
    out: &Shape,
    n: usize,
    op: Binary,
) -> Vec<f32> {
    let dims = out.dims();
    let last = *dims.last().unwrap_or(&1);
    let (ta, tb) = (sa.broadcast_strides(out), sb.broadcast_strides(out));
    let (la, lb) = (*ta.last().unwrap_or(&0), *tb.last().unwrap_or(&0));
    let mut v = vec![0f32; n];
    v.par_chunks_mut(last.max(1))
        .enumerate()
        .for_each(|(row, o)| {
            let base = row * last;
            let (oa, ob) = (
                broadcast_offset(base, dims, &ta),
                broadcast_offset(base, dims, &tb),
            );
            for (j, out) in o.iter_mut().enumerate() {
                *out = op.apply(av[oa + j * la], bv[ob + j * lb]);
            }
        });
    v
}
