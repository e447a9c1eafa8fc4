//! Fast f32 copies: contiguous blocks of `len × inner` elements per outer index, in parallel.

use super::blocks;
use crate::ops::from_f32_like;
use crate::{Shape, Tensor};
use rayon::prelude::*;

pub(super) fn narrow(t: &Tensor, axis: usize, start: usize, len: usize, out: &Shape) -> Tensor {
    let (_, d, inner) = blocks(t.shape(), axis);
    let o = t.host_f32(|x| {
        let mut o = crate::tensor::recycler::zeroed(out.numel());
        o.par_chunks_mut(len * inner)
            .enumerate()
            .for_each(|(i, dst)| {
                let src = i * d * inner + start * inner;
                dst.copy_from_slice(&x[src..src + len * inner]);
            });
        o
    });
    from_f32_like(o, out.clone(), t)
}

/// Copies `x` (blocks of `len × inner` per outer index) into elements `start .. start + len`
/// of the axis in `o` (blocks of `d × inner`).
fn place(o: &mut [f32], x: &[f32], d: usize, inner: usize, start: usize, len: usize) {
    o.par_chunks_mut(d * inner)
        .enumerate()
        .for_each(|(i, dst)| {
            dst[start * inner..(start + len) * inner]
                .copy_from_slice(&x[i * len * inner..(i + 1) * len * inner]);
        });
}

pub(super) fn unnarrow(g: &Tensor, axis: usize, start: usize, full: &Shape) -> Tensor {
    let (_, d, inner) = blocks(full, axis);
    let len = g.dims()[axis];
    let mut o = crate::tensor::recycler::zeroed(full.numel());
    g.host_f32(|x| place(&mut o, x, d, inner, start, len));
    from_f32_like(o, full.clone(), g)
}

pub(super) fn cat(ts: &[&Tensor], axis: usize, out: &Shape) -> Tensor {
    let (_, d, inner) = blocks(out, axis);
    let mut o = crate::tensor::recycler::zeroed(out.numel());
    let mut start = 0;
    for t in ts {
        let len = t.dims()[axis];
        t.host_f32(|x| place(&mut o, x, d, inner, start, len));
        start += len;
    }
    from_f32_like(o, out.clone(), ts[0])
}
