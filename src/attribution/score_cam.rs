//! ScoreCAM (Wang et al. 2020): each target-layer channel `A_k`, upsampled bilinearly
//! (half-pixel) to the input size and min–max normalised, masks the input; the classifier's
//! probability on the masked input weighs the un-normalised upsampled channel:
//! `ReLU(Σ_k σ(f(x ⊙ M_k))·A_k↑)`, then min–max normalised. Constant channels are skipped, as
//! the authors' code does. The masked forwards run in batches without a tape.

use super::{host4, min_max, CamModel};
use crate::data::resize_linear;
use crate::nn::Ctx;
use crate::{no_grad, ops, Result, Tensor};

/// One map per image of `x` ([N, 1, H, W]); `batch` masked inputs per forward.
pub fn score_cam(f: &dyn CamModel, x: &Tensor, batch: usize) -> Result<Vec<Vec<f32>>> {
    let (_, _, rows, cols) = x.shape().dims4("score_cam")?;
    let ctx = Ctx::eval();
    let (_, a) = no_grad(|| f.logits_and_features(x, &ctx))?;
    let (act, [n, c, h, w]) = host4(&a, "score_cam activation")?;
    let xs = x.try_to_vec_f32()?;
    let (hw, px) = (h * w, rows * cols);
    let mut maps = Vec::with_capacity(n);
    for i in 0..n {
        let image = &xs[i * px..(i + 1) * px];
        // The upsampled channels that are not constant.
        let mut ups = Vec::new();
        for k in 0..c {
            let o = (i * c + k) * hw;
            let ch = &act[o..o + hw];
            let (lo, hi) = ch
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            if hi > lo {
                ups.push(resize_linear(ch, h, w, rows, cols)?);
            }
        }
        let mut sal = vec![0.0f32; px];
        for chunk in ups.chunks(batch.max(1)) {
            let mut masked = Vec::with_capacity(chunk.len() * px);
            for up in chunk {
                let mut m = up.clone();
                min_max(&mut m);
                masked.extend(image.iter().zip(&m).map(|(v, m)| v * m));
            }
            let t = Tensor::from_f32(masked, [chunk.len(), 1, rows, cols], x.device())?;
            let p =
                no_grad(|| ops::sigmoid(&f.logits_and_features(&t, &ctx)?.0))?.try_to_vec_f32()?;
            for (up, &s) in chunk.iter().zip(&p) {
                sal.iter_mut().zip(up).for_each(|(v, &u)| *v += s * u);
            }
        }
        sal.iter_mut().for_each(|v| *v = v.max(0.0));
        min_max(&mut sal);
        maps.push(sal);
    }
    Ok(maps)
}
