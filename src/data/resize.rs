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

/// Bilinear resize with OpenCV `INTER_LINEAR` semantics.
pub fn resize_linear(src: &[f32], h: usize, w: usize, oh: usize, ow: usize) -> Result<Vec<f32>> {
    check(src.len(), h, w, oh, ow)?;
    let ty: Vec<_> = (0..oh).map(|i| bilinear_src(i, h, oh, false)).collect();
    let tx: Vec<_> = (0..ow).map(|j| bilinear_src(j, w, ow, false)).collect();
    let mut out = Vec::with_capacity(oh * ow);
    for &(y0, y1, ly) in &ty {
        for &(x0, x1, lx) in &tx {
            let (ly, lx) = (ly as f32, lx as f32);
            let top = src[y0 * w + x0] * (1.0 - lx) + src[y0 * w + x1] * lx;
            let bot = src[y1 * w + x0] * (1.0 - lx) + src[y1 * w + x1] * lx;
            out.push(top * (1.0 - ly) + bot * ly);
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
