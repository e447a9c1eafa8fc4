//! The classifier's augmentations (`augs: [hflip, vflip, shift_scale_rotate]` of the paper's
//! configs) and the per-epoch sample order. All randomness comes from a caller's `Rng`, keyed
//! by (seed, epoch, index), so batches never depend on thread timing and a resumed run redraws
//! exactly what an uninterrupted one drew.

use crate::rng::Rng;

/// Warps an image (bilinear) and its masks (nearest) through `map`, which sends an output
/// pixel (x, y) to the input position it samples; outside the input reads 0 (OpenCV's
/// `BORDER_CONSTANT` with value 0 — mid-grey in [−1, 1] images, as in the paper).
pub fn warp(
    img: &[f32],
    masks: &[Vec<u8>],
    h: usize,
    w: usize,
    map: impl Fn(f64, f64) -> (f64, f64),
) -> (Vec<f32>, Vec<Vec<u8>>) {
    let inb = |y: isize, x: isize| y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w;
    let at = |y: isize, x: isize| {
        if inb(y, x) {
            img[y as usize * w + x as usize]
        } else {
            0.0
        }
    };
    let mut out = Vec::with_capacity(h * w);
    let mut outm: Vec<Vec<u8>> = masks.iter().map(|_| Vec::with_capacity(h * w)).collect();
    for r in 0..h {
        for c in 0..w {
            let (sx, sy) = map(c as f64, r as f64);
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = ((sx - x0) as f32, (sy - y0) as f32);
            let (x0, y0) = (x0 as isize, y0 as isize);
            out.push(
                (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                    + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)),
            );
            let (ny, nx) = (sy.round() as isize, sx.round() as isize);
            for (m, o) in masks.iter().zip(outm.iter_mut()) {
                o.push(if inb(ny, nx) {
                    m[ny as usize * w + nx as usize]
                } else {
                    0
                });
            }
        }
    }
    (out, outm)
}

/// The paper's classifier augmentations, albumentations' defaults where the config is silent.
#[derive(Clone, Copy, Debug)]
pub struct Augment {
    pub hflip: f64,
    pub vflip: f64,
    /// Probability of ShiftScaleRotate and its limits (fraction of the side, ±scale, ±degrees).
    pub ssr: f64,
    pub shift: f64,
    pub scale: f64,
    pub rotate_deg: f64,
}

impl Default for Augment {
    fn default() -> Self {
        Augment {
            hflip: 0.5,
            vflip: 0.1,
            ssr: 0.5,
            shift: 0.07,
            scale: 0.1,
            rotate_deg: 10.0,
        }
    }
}

impl Augment {
    /// Applies the augmentations in the paper's order to an h × w image and its masks.
    pub fn apply(
        &self,
        img: &mut Vec<f32>,
        masks: &mut [Vec<u8>],
        h: usize,
        w: usize,
        r: &mut Rng,
    ) {
        if r.uniform() < self.hflip {
            for row in 0..h {
                img[row * w..(row + 1) * w].reverse();
                masks
                    .iter_mut()
                    .for_each(|m| m[row * w..(row + 1) * w].reverse());
            }
        }
        if r.uniform() < self.vflip {
            for row in 0..h / 2 {
                for c in 0..w {
                    img.swap(row * w + c, (h - 1 - row) * w + c);
                    masks
                        .iter_mut()
                        .for_each(|m| m.swap(row * w + c, (h - 1 - row) * w + c));
                }
            }
        }
        if r.uniform() < self.ssr {
            let angle = r
                .uniform_range(-self.rotate_deg, self.rotate_deg)
                .to_radians();
            let scale = 1.0 + r.uniform_range(-self.scale, self.scale);
            let (dx, dy) = (
                r.uniform_range(-self.shift, self.shift) * w as f64,
                r.uniform_range(-self.shift, self.shift) * h as f64,
            );
            // OpenCV's getRotationMatrix2D about the centre, then the shift; invert it to map
            // each output pixel back to its source.
            let (cx, cy) = (w as f64 / 2.0 - 0.5, h as f64 / 2.0 - 0.5);
            let (a, b) = (scale * angle.cos(), scale * angle.sin());
            let (tx, ty) = ((1.0 - a) * cx - b * cy + dx, b * cx + (1.0 - a) * cy + dy);
            let det = a * a + b * b;
            let (warped, wm) = warp(img, masks, h, w, |x, y| {
                let (u, v) = (x - tx, y - ty);
                ((a * u - b * v) / det, (b * u + a * v) / det)
            });
            *img = warped;
            masks.iter_mut().zip(wm).for_each(|(m, n)| *m = n);
        }
    }
}

const SHUFFLE: u64 = 0x5f;
const BALANCE: u64 = 0xba;

/// The order of an epoch: a shuffle of 0..n keyed by (seed, epoch).
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut r = Rng::keyed(seed, &[epoch, SHUFFLE]);
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        v.swap(i, r.below(i as u64 + 1) as usize);
    }
    v
}

/// Class-balanced order (the TUH runs' `ImbalancedDatasetSampler`): `labels.len()` draws with
/// replacement, each sample weighted by 1 / (count of its label), keyed by (seed, epoch).
pub fn balanced_order(labels: &[u8], seed: u64, epoch: u64) -> Vec<usize> {
    let mut counts = [0usize; 256];
    labels.iter().for_each(|&l| counts[l as usize] += 1);
    let weights: Vec<f64> = labels
        .iter()
        .map(|&l| 1.0 / counts[l as usize] as f64)
        .collect();
    let mut cum = Vec::with_capacity(weights.len());
    let mut total = 0.0;
    for w in &weights {
        total += w;
        cum.push(total);
    }
    let mut r = Rng::keyed(seed, &[epoch, BALANCE]);
    (0..labels.len())
        .map(|_| {
            let u = r.uniform() * total;
            cum.partition_point(|&c| c <= u).min(labels.len() - 1)
        })
        .collect()
}
