//! Reference copies: element by element through multi-indices, in f64.

use super::blocks;
use crate::ops::from_f64_like;
use crate::{Shape, Tensor};

pub(super) fn narrow(t: &Tensor, axis: usize, start: usize, len: usize, out: &Shape) -> Tensor {
    let (_, d, inner) = blocks(t.shape(), axis);
    let v = t.to_vec_f64();
    let o: Vec<f64> = (0..out.numel())
        .map(|i| {
            let (outer_i, rest) = (i / (len * inner), i % (len * inner));
            let (k, j) = (rest / inner, rest % inner);
            v[outer_i * d * inner + (start + k) * inner + j]
        })
        .collect();
    from_f64_like(&o, out.clone(), t)
}

pub(super) fn unnarrow(g: &Tensor, axis: usize, start: usize, full: &Shape) -> Tensor {
    let (_, d, inner) = blocks(full, axis);
    let len = g.dims()[axis];
    let gv = g.to_vec_f64();
    let mut o = vec![0f64; full.numel()];
    for (i, &v) in gv.iter().enumerate() {
        let (outer_i, rest) = (i / (len * inner), i % (len * inner));
        let (k, j) = (rest / inner, rest % inner);
        o[outer_i * d * inner + (start + k) * inner + j] = v;
    }
    from_f64_like(&o, full.clone(), g)
}

pub(super) fn cat(ts: &[&Tensor], axis: usize, out: &Shape) -> Tensor {
    let (outer, d, inner) = blocks(out, axis);
    let mut o = vec![0f64; out.numel()];
    let mut start = 0;
    for t in ts {
        let len = t.dims()[axis];
        for (i, v) in t.to_vec_f64().into_iter().enumerate() {
            let (outer_i, rest) = (i / (len * inner), i % (len * inner));
            let (k, j) = (rest / inner, rest % inner);
            o[outer_i * d * inner + (start + k) * inner + j] = v;
        }
        start += len;
    }
    debug_assert!(outer * d * inner == o.len());
    from_f64_like(&o, out.clone(), ts[0])
}
