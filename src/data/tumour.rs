//! The paper's synthetic tumours (docs/method.md, "Data"; the authors' `CTScan._augment_synthetic_anomaly`): a bright
//! Gaussian blob pasted additively inside one of the two largest kidney components.
//!
//! - Template: `g = exp(−d²/(2·0.4²))` on a `side × side` grid over [−1, 1]² (side 20 at
//!   1.5 mm), mask `g > 0.25`.
//! - Per instance: scale s ~ U(0.75, 1) (new side ⌊side·s⌋; bilinear image, nearest mask);
//!   with p 0.5 an anisotropic stretch anchored at the top-left corner (sx, sy ~ 1 + U(−0.2, 0.2),
//!   samples past the edge are 0); with p 0.5 a rotation by U(−90°, 90°) about the centre.
//! - Placement, with probability p (0.65): the kidney mask's 8-connected components; one of the
//!   two largest, uniformly; a point drawn in its bounding box shrunk by ⌊5 %⌋ per side, kept
//!   only when strictly inside the component (the pixel and its 4 neighbours are kidney); the
//!   blob goes in only when the box is larger than 400 px. Where the paper's code swallowed a
//!   failure (recursion limit, a patch past the border), this retries a bounded number of
//!   times and reports what happened.
//! - Intensity, in [0, 1] units: `clip(x01 + 0.9·blob, 0, 1)`.
//!
//! The paper's pixel numbers hold at 1.5 mm; at other in-plane spacings the template side, the
//! 400 px box area and the 5 % margin scale together (the margin is relative already).

use super::augment::warp;
use crate::rng::Rng;
use crate::{Error, Result};

/// Parameters of the synthetic anomaly (the paper's `synth_params`).
#[derive(Clone, Copy, Debug)]
pub struct TumourParams {
    pub p: f64,
    pub size: usize,
    pub sigma: f64,
    pub mask_thresh: f64,
    pub alpha: f32,
    /// In-plane voxel size (mm) of the slices; the pixel numbers are for 1.5 mm.
    pub spacing_mm: f64,
    /// Placement attempts before giving up.
    pub max_tries: usize,
}

impl Default for TumourParams {
    fn default() -> Self {
        TumourParams {
            p: 0.65,
            size: 20,
            sigma: 0.4,
            mask_thresh: 0.25,
            alpha: 0.9,
            spacing_mm: 1.5,
            max_tries: 100,
        }
    }
}

/// What happened to one slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A tumour was inserted.
    Inserted,
    /// The p-draw said no tumour.
    NotDrawn,
    /// No kidney, or the chosen kidney's bounding box is not larger than the template.
    KidneyTooSmall,
    /// No point inside the kidney whose patch fits the slice was found in `max_tries`.
    PlacementFailed,
}

/// A slice with (perhaps) a synthetic tumour.
pub struct Synthetic {
    /// The slice with the tumour, in [−1, 1].
    pub image: Vec<f32>,
    /// Ground-truth tumour mask (0/1).
    pub tumour: Vec<u8>,
    pub outcome: Outcome,
}

impl Synthetic {
    /// The image-level label: 1 when a tumour was inserted.
    pub fn label(&self) -> u8 {
        (self.outcome == Outcome::Inserted) as u8
    }
}

/// The blob template (side × side values and mask).
pub fn template(side: usize, sigma: f64, thresh: f64) -> (Vec<f32>, Vec<u8>) {
    let lin = |i: usize| {
        if side > 1 {
            -1.0 + 2.0 * i as f64 / (side - 1) as f64
        } else {
            0.0
        }
    };
    let mut g = Vec::with_capacity(side * side);
    for r in 0..side {
        for c in 0..side {
            let d2 = lin(r).powi(2) + lin(c).powi(2);
            g.push((-d2 / (2.0 * sigma * sigma)).exp());
        }
    }
    let mask = g.iter().map(|&v| (v > thresh) as u8).collect();
    (g.into_iter().map(|v| v as f32).collect(), mask)
}

/// One randomly transformed blob: (values, mask, side).
fn random_blob(prm: &TumourParams, r: &mut Rng) -> (Vec<f32>, Vec<u8>, usize) {
    let f = 1.5 / prm.spacing_mm;
    let base = ((prm.size as f64 * f).round() as usize).max(4);
    let (g0, m0) = template(base, prm.sigma, prm.mask_thresh);
    // RandomScale: side ⌊base·s⌋; bilinear values (half-pixel), nearest mask.
    let side = ((base as f64 * r.uniform_range(0.75, 1.0)) as usize).max(2);
    let g = super::resize::resize_linear(&g0, base, base, side, side).expect("valid sizes");
    let m = super::resize::resize_nearest(&m0, base, base, side, side).expect("valid sizes");
    let (mut g, mut m) = (g, m);
    let n = side as f64;
    if r.uniform() < 0.5 {
        // GridDistortion(num_steps=1): an anisotropic stretch anchored at the top-left corner.
        let (sx, sy) = (
            1.0 + r.uniform_range(-0.2, 0.2),
            1.0 + r.uniform_range(-0.2, 0.2),
        );
        let (g2, m2) = warp(&g, &[m], side, side, |x, y| {
            (x * n * sx / (n - 1.0), y * n * sy / (n - 1.0))
        });
        (g, m) = (g2, m2.into_iter().next().expect("one mask"));
    }
    if r.uniform() < 0.5 {
        let a = r.uniform_range(-90.0, 90.0).to_radians();
        let c = (n - 1.0) / 2.0;
        let (g2, m2) = warp(&g, &[m], side, side, |x, y| {
            let (dx, dy) = (x - c, y - c);
            (
                c + dx * a.cos() - dy * a.sin(),
                c + dx * a.sin() + dy * a.cos(),
            )
        });
        (g, m) = (g2, m2.into_iter().next().expect("one mask"));
    }
    (g, m, side)
}

/// Inserts a synthetic tumour into `slice` (h × w, values in [−1, 1]) inside `kidney` (0/1).
pub fn insert(
    slice: &[f32],
    kidney: &[u8],
    h: usize,
    w: usize,
    prm: &TumourParams,
    r: &mut Rng,
) -> Result<Synthetic> {
    if slice.len() != h * w || kidney.len() != h * w {
        return Err(Error::Shape(format!(
            "synthetic tumour: slice of {} and kidney mask of {} values for {h}×{w}",
            slice.len(),
            kidney.len()
        )));
    }
    let none = |outcome| Synthetic {
        image: slice.to_vec(),
        tumour: vec![0; h * w],
        outcome,
    };
    if r.uniform() >= prm.p {
        return Ok(none(Outcome::NotDrawn));
    }
    let comps = super::components::components(|i| kidney[i] != 0, [w, h, 1]);
    if comps.is_empty() {
        return Ok(none(Outcome::KidneyTooSmall));
    }
    let comp = &comps[r.below(comps.len().min(2) as u64) as usize];
    let (mut y0, mut y1, mut x0, mut x1) = (usize::MAX, 0, usize::MAX, 0);
    for &p in comp {
        let (y, x) = (p / w, p % w);
        (y0, y1, x0, x1) = (y0.min(y), y1.max(y), x0.min(x), x1.max(x));
    }
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let f = 1.5 / prm.spacing_mm;
    if (bw * bh) as f64 <= 400.0 * f * f {
        return Ok(none(Outcome::KidneyTooSmall));
    }
    let (blob, bmask, side) = random_blob(prm, r);
    let (mx, my) = (bw / 20, bh / 20); // ⌊0.05·w⌋
    let interior = |y: usize, x: usize| {
        kidney[y * w + x] != 0
            && y > 0
            && x > 0
            && y + 1 < h
            && x + 1 < w
            && [
                kidney[(y - 1) * w + x],
                kidney[(y + 1) * w + x],
                kidney[y * w + x - 1],
                kidney[y * w + x + 1],
            ]
            .iter()
            .all(|&k| k != 0)
    };
    for _ in 0..prm.max_tries {
        let span_x = (bw - 2 * mx).max(1) as u64;
        let span_y = (bh - 2 * my).max(1) as u64;
        let (cx, cy) = (
            x0 + mx + r.below(span_x) as usize,
            y0 + my + r.below(span_y) as usize,
        );
        if !interior(cy, cx) {
            continue;
        }
        // Patch rows cy − ⌊side/2⌋ .. cy + ⌈side/2⌉; it must lie inside the slice.
        let (top, left) = (
            cy as isize - (side / 2) as isize,
            cx as isize - (side / 2) as isize,
        );
        if top < 0 || left < 0 || top as usize + side > h || left as usize + side > w {
            continue;
        }
        let (top, left) = (top as usize, left as usize);
        let mut image = slice.to_vec();
        let mut tumour = vec![0u8; h * w];
        for r_ in 0..side {
            for c in 0..side {
                let i = (top + r_) * w + left + c;
                let x01 = (image[i] + 1.0) / 2.0;
                image[i] = 2.0 * (x01 + prm.alpha * blob[r_ * side + c]).clamp(0.0, 1.0) - 1.0;
                tumour[i] = tumour[i].max(bmask[r_ * side + c]);
            }
        }
        return Ok(Synthetic {
            image,
            tumour,
            outcome: Outcome::Inserted,
        });
    }
    Ok(none(Outcome::PlacementFailed))
}
