//! Reference reductions: each input element adds into its output slot, in f64.

use super::Plan;
use crate::ops::elementwise::broadcast_offset;
use crate::ops::from_f64_like;
use crate::{Shape, Tensor};

pub(super) fn sum(t: &Tensor, plan: &Plan) -> Tensor {
    let kept = plan.kept_shape();
    let ks = kept.broadcast_strides(t.shape());
    let mut out = vec![0f64; kept.numel()];
    for (i, v) in t.to_vec_f64().into_iter().enumerate() {
        out[broadcast_offset(i, &plan.dims, &ks)] += v;
    }
    from_f64_like(&out, kept, t)
}

pub(super) fn broadcast_to(t: &Tensor, shape: &Shape) -> Tensor {
    let s = t.shape().broadcast_strides(shape);
    let v = t.to_vec_f64();
    let out: Vec<f64> = (0..shape.numel())
        .map(|i| v[broadcast_offset(i, shape.dims(), &s)])
        .collect();
    from_f64_like(&out, shape.clone(), t)
}
