//! Resizing 2-D slices as OpenCV does for the paper's `albumentations.Resize`:
//! `INTER_LINEAR` (half-pixel centres, source `(d + 0.5)·in/out − 0.5` clamped at the borders;
//! an exact 2× downscale is a 2×2 box average) for images, and `INTER_NEAREST` (source index
//! `floor(d·in/out)`) for masks. Row-major `h × w` slices.

use crate::ops::resample::bilinear_src;
use crate::{Error, Result};

fn check(len: usize, h: usize, w: usize, oh: usize, ow: usize) -> Result<()> {
    if h == 0 || w == 0 || oh == 0 || ow == 0 || len != h * w {
        return Err(Error::Shape(format!(
            "resize: a {h}×{w} slice of {len} values cannot become {oh}×{ow}"
        )));
    }
    Ok(())
}

/// Bilinear resize with OpenCV `INTER_LINEAR` semantics. Separable, as OpenCV: each source
/// row is interpolated horizontally once (two rows kept), then output rows blend two of them —
/// the same arithmetic, in the same order, as blending the four neighbours per pixel.
pub fn resize_linear(src: &[f32], h: usize, w: usize, oh: usize, ow: usize) -> Result<Vec<f32>> {
    check(src.len(), h, w, oh, ow)?;
    let ty: Vec<_> = (0..oh).map(|i| bilinear_src(i, h, oh, false)).collect();
    let tx: Vec<_> = (0..ow)
        .map(|j| {
            let (x0, x1, lx) = bilinear_src(j, w, ow, false);
            (x0, x1, lx as f32)
        })
        .collect();
    let horizontal = |y: usize, row: &mut [f32]| {
        let s = &src[y * w..(y + 1) * w];
        for (o, &(x0, x1, lx)) in row.iter_mut().zip(&tx) {
            *o = s[x0] * (1.0 - lx) + s[x1] * lx;
        }
    };
    let mut out = vec![0.0f32; oh * ow];
    // rows[k] holds source row keys[k] interpolated horizontally.
    let mut rows = [vec![0.0f32; ow], vec![0.0f32; ow]];
    let mut keys = [usize::MAX; 2];
    for (i, &(y0, y1, ly)) in ty.iter().enumerate() {
        for (k, y) in [y0, y1].into_iter().enumerate() {
            if keys[k] != y {
                if k == 0 && keys[1] == y {
                    rows.swap(0, 1);
                    keys.swap(0, 1);
                } else {
                    horizontal(y, &mut rows[k]);
                    keys[k] = y;
                }
            }
        }
        let ly = ly as f32;
        let (top, bot) = (&rows[0], &rows[1]);
        for ((o, &t), &b) in out[i * ow..(i + 1) * ow].iter_mut().zip(top).zip(bot) {
            *o = t * (1.0 - ly) + b * ly;
        }
    }
    Ok(out)
}

/// Nearest-neighbour resize with OpenCV `INTER_NEAREST` semantics (for label masks).
pub fn resize_nearest<T: Copy>(
    src: &[T],
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
) -> Result<Vec<T>> {
    check(src.len(), h, w, oh, ow)?;
    let idx = |d: usize, inp: usize, out: usize| {
        ((d as f64 * inp as f64 / out as f64).floor() as usize).min(inp - 1)
    };
    let mut out = Vec::with_capacity(oh * ow);
    for i in 0..oh {
        let y = idx(i, h, oh);
        for j in 0..ow {
            out.push(src[y * w + idx(j, w, ow)]);
        }
    }
    Ok(out)
}
