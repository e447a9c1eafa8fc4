//! Fast f32 reductions. One output element per task, summed in a fixed order in f64 (runs of
//! the innermost axis are summed as slices); a full reduction uses fixed 64 Ki-element chunks.

use super::Plan;
use crate::ops::elementwise::broadcast_offset;
use crate::ops::from_f32_like;
use crate::{Shape, Tensor};
use rayon::prelude::*;

const CHUNK: usize = 1 << 16;

fn sum_slice(s: &[f32]) -> f64 {
    // Four lanes keep the adds independent; still a fixed order.
    let mut acc = [0f64; 4];
    let mut it = s.chunks_exact(4);
    for c in &mut it {
        acc[0] += c[0] as f64;
        acc[1] += c[1] as f64;
        acc[2] += c[2] as f64;
        acc[3] += c[3] as f64;
    }
    let tail: f64 = it.remainder().iter().map(|&v| v as f64).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

pub(super) fn sum(t: &Tensor, plan: &Plan) -> Tensor {
    let kept = plan.kept_shape();
    let out = t.host_f32(|x| {
        if plan.reduced.iter().all(|&r| r) {
            let partial: Vec<f64> = x.par_chunks(CHUNK).map(sum_slice).collect();
            return vec![partial.iter().sum::<f64>() as f32];
        }
        let dims = &plan.dims;
        let strides = Shape(dims.clone()).strides();
        let rank = dims.len();
        // Innermost contiguous run of reduced axes.
        let mut run = 1;
        let mut first_run_axis = rank;
        for a in (0..rank).rev() {
            if plan.reduced[a] {
                run *= dims[a];
                first_run_axis = a;
            } else {
                break;
            }
        }
        let outer_red: Vec<usize> = (0..first_run_axis).filter(|&a| plan.reduced[a]).collect();
        let outer_count: usize = outer_red.iter().map(|&a| dims[a]).product();
        let kept_dims = kept.dims().to_vec();
        let kept_in_strides: Vec<usize> = (0..rank)
            .map(|a| if plan.reduced[a] { 0 } else { strides[a] })
            .collect();
        (0..kept.numel())
            .into_par_iter()
            .map(|j| {
                let base = broadcast_offset(j, &kept_dims, &kept_in_strides);
                let mut acc = 0f64;
                for k in 0..outer_count {
                    let mut rem = k;
                    let mut off = base;
                    for &a in outer_red.iter().rev() {
                        off += (rem % dims[a]) * strides[a];
                        rem /= dims[a];
                    }
                    acc += sum_slice(&x[off..off + run]);
                }
                acc as f32
            })
            .collect()
    });
    from_f32_like(out, kept, t)
}

pub(super) fn broadcast_to(t: &Tensor, shape: &Shape) -> Tensor {
    let s = t.shape().broadcast_strides(shape);
    let dims = shape.dims();
    let last = *dims.last().unwrap_or(&1);
    let ls = *s.last().unwrap_or(&0);
    let out = t.host_f32(|x| {
        let mut out = crate::tensor::recycler::zeroed(shape.numel());
        out.par_chunks_mut(last.max(1))
            .enumerate()
            .for_each(|(row, o)| {
                let base = broadcast_offset(row * last, dims, &s);
                for (j, v) in o.iter_mut().enumerate() {
                    *v = x[base + j * ls];
                }
            });
        out
    });
    from_f32_like(out, shape.clone(), t)
}
