//! RISE (Petsiuk et al. 2018) as the authors run it: `N` random masks, each an `s × s` grid of
//! Bernoulli(p) cells upsampled bilinearly to `(s + 1)·⌈H/s⌉` and cropped at a random shift in
//! `[0, ⌈H/s⌉)`; the saliency is `Σ_i σ(f(M_i ⊙ x))·M_i / (N·p)`, min–max normalised. The masks
//! multiply the [−1, 1] image, so masked regions become 0 (mid-grey).
//!
//! The masks are drawn once from a seed and shared by every image (the authors cache them in
//! `masks.npy`); only the grids and shifts are stored, and each batch expands its masks again,
//! so 6,000 masks at 256² need no 1.5 GB.

use super::{min_max, CamModel};
use crate::data::resize_linear;
use crate::nn::Ctx;
use crate::rng::Rng;
use crate::{no_grad, ops, Error, Result, Tensor};

/// RISE's settings (the paper: 6,000 masks, an 8×8 grid, p 0.1).
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct RiseCfg {
    pub masks: usize,
    pub grid: usize,
    pub p: f64,
    /// Masked images per forward.
    pub batch: usize,
    pub seed: u64,
}

impl Default for RiseCfg {
    fn default() -> Self {
        RiseCfg {
            masks: 6000,
            grid: 8,
            p: 0.1,
            batch: 64,
            seed: 42,
        }
    }
}

/// RISE's masks for one input size.
pub struct Rise {
    cfg: RiseCfg,
    rows: usize,
    cols: usize,
    /// Per mask: its grid (`grid²` 0/1 cells) and the crop's shift (dy, dx).
    grids: Vec<(Vec<f32>, usize, usize)>,
}

impl Rise {
    /// Draws the masks for `rows × cols` inputs.
    pub fn new(cfg: RiseCfg, rows: usize, cols: usize) -> Result<Rise> {
        if cfg.masks == 0 || cfg.grid == 0 || !(cfg.p > 0.0 && cfg.p <= 1.0) {
            return Err(Error::Invalid(format!(
                "RISE needs masks > 0, grid > 0 and p in (0, 1]: {cfg:?}"
            )));
        }
        let s = cfg.grid;
        let (cy, cx) = (rows.div_ceil(s), cols.div_ceil(s));
        let grids = (0..cfg.masks)
            .map(|i| {
                let mut r = Rng::keyed(cfg.seed, &[i as u64]);
                let g = (0..s * s)
                    .map(|_| (r.uniform() < cfg.p) as u8 as f32)
                    .collect();
                (g, r.below(cy as u64) as usize, r.below(cx as u64) as usize)
            })
            .collect();
        Ok(Rise {
            cfg,
            rows,
            cols,
            grids,
        })
    }

    /// Mask `i`, `rows × cols`.
    pub fn mask(&self, i: usize) -> Result<Vec<f32>> {
        let s = self.cfg.grid;
        let (cy, cx) = (self.rows.div_ceil(s), self.cols.div_ceil(s));
        let (uh, uw) = ((s + 1) * cy, (s + 1) * cx);
        let (g, dy, dx) = &self.grids[i];
        let up = resize_linear(g, s, s, uh, uw)?;
        let mut m = Vec::with_capacity(self.rows * self.cols);
        for r in 0..self.rows {
            m.extend_from_slice(&up[(r + dy) * uw + dx..(r + dy) * uw + dx + self.cols]);
        }
        Ok(m)
    }

    /// One map per image of `x` ([N, 1, rows, cols]).
    pub fn saliency(&self, f: &dyn CamModel, x: &Tensor) -> Result<Vec<Vec<f32>>> {
        let (n, _, rows, cols) = x.shape().dims4("rise")?;
        if (rows, cols) != (self.rows, self.cols) {
            return Err(Error::Shape(format!(
                "RISE masks are {}×{}, the images {rows}×{cols}",
                self.rows, self.cols
            )));
        }
        let xs = x.try_to_vec_f32()?;
        let px = rows * cols;
        let ctx = Ctx::eval();
        let mut maps = vec![vec![0.0f32; px]; n];
        let starts: Vec<usize> = (0..self.cfg.masks).step_by(self.cfg.batch.max(1)).collect();
        for &start in &starts {
            let end = (start + self.cfg.batch.max(1)).min(self.cfg.masks);
            let masks: Vec<Vec<f32>> = (start..end).map(|i| self.mask(i)).collect::<Result<_>>()?;
            for (i, map) in maps.iter_mut().enumerate() {
                let image = &xs[i * px..(i + 1) * px];
                let mut batch = Vec::with_capacity(masks.len() * px);
                for m in &masks {
                    batch.extend(image.iter().zip(m).map(|(v, m)| v * m));
                }
                let t = Tensor::from_f32(batch, [masks.len(), 1, rows, cols], x.device())?;
                let p = no_grad(|| ops::sigmoid(&f.logits_and_features(&t, &ctx)?.0))?
                    .try_to_vec_f32()?;
                for (m, &s) in masks.iter().zip(&p) {
                    map.iter_mut().zip(m).for_each(|(v, &mv)| *v += s * mv);
                }
            }
        }
        let scale = 1.0 / (self.cfg.masks as f64 * self.cfg.p) as f32;
        for map in &mut maps {
            map.iter_mut().for_each(|v| *v *= scale);
            min_max(map);
        }
        Ok(maps)
    }
}
