//! LayerCAM (Jiang et al. 2021): `cam = Σ_k A_k ⊙ ReLU(∂logit/∂A_k)` at the target layer,
//! bilinearly upsampled (half-pixel, as `align_corners=False`) to the input size and min–max
//! normalised. The gradient of the raw logit comes from the tape, with the classifier's
//! parameters frozen; the batch's logits are summed (each image's logit depends on its own
//! activation only: batch norm runs on its running statistics).

use super::{host4, min_max, CamModel};
use crate::data::resize_linear;
use crate::nn::Ctx;
use crate::{ops, Result, Tape, Tensor};

/// One map per image of `x` ([N, 1, H, W]).
pub fn layer_cam(f: &dyn CamModel, x: &Tensor) -> Result<Vec<Vec<f32>>> {
    let (_, _, rows, cols) = x.shape().dims4("layer_cam")?;
    let tape = Tape::new();
    let xt = tape.track(x);
    let (logits, a) = f.logits_and_features(&xt, &Ctx::frozen(&tape))?;
    let g = tape.backward(&ops::sum_all(&logits)?, &[&a])?;
    let grad = g
        .get(&a)
        .map(|t| t.try_to_vec_f32())
        .transpose()?
        .unwrap_or_default();
    let (act, [n, c, h, w]) = host4(&a, "layer_cam activation")?;
    let grad = if grad.is_empty() {
        vec![0.0; act.len()]
    } else {
        grad
    };
    let hw = h * w;
    (0..n)
        .map(|i| {
            let mut cam = vec![0.0f32; hw];
            for k in 0..c {
                let o = (i * c + k) * hw;
                for (p, v) in cam.iter_mut().enumerate() {
                    *v += act[o + p] * grad[o + p].max(0.0);
                }
            }
            let mut up = resize_linear(&cam, h, w, rows, cols)?;
            min_max(&mut up);
            Ok(up)
        })
        .collect()
}
