//! Attribution baselines on the same frozen classifier (docs/method.md, "Segmentation and metrics"): RISE, LayerCAM and
//! ScoreCAM. Each returns one saliency map per image at the input's size, min–max normalised to
//! [0, 1]; the evaluation thresholds them (0.975 in the paper) into masks.

mod layer_cam;
mod rise;
mod score_cam;

pub use layer_cam::layer_cam;
pub use rise::{Rise, RiseCfg};
pub use score_cam::score_cam;

use crate::models::ResNet18;
use crate::nn::Ctx;
use crate::{Result, Tensor};

/// A classifier with one logit and a target layer: `(logits [N, 1], activation [N, C, h, w])`,
/// recorded on `ctx`'s tape when it has one.
pub trait CamModel {
    fn logits_and_features(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)>;
}

/// ResNet-18 at its last stage (`layer4`), as the paper's baselines.
impl CamModel for ResNet18 {
    fn logits_and_features(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let o = self.forward_with_features(x, ctx)?;
        Ok((o.logits, o.features))
    }
}

/// Min–max normalisation to [0, 1] (a constant map becomes zeros), as the authors' `+1e-8`.
pub fn min_max(map: &mut [f32]) {
    let (lo, hi) = map
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let range = hi - lo;
    map.iter_mut().for_each(|v| *v = (*v - lo) / (range + 1e-8));
}

/// `[N, C, h, w]` values and dims of a tensor read to the host.
fn host4(t: &Tensor, what: &str) -> Result<(Vec<f32>, [usize; 4])> {
    let (n, c, h, w) = t.shape().dims4(what)?;
    Ok((t.try_to_vec_f32()?, [n, c, h, w]))
}
