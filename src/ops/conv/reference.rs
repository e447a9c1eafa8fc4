//! Reference convolution: the textbook loops, f64 accumulation. Forward, backward-data and
//! backward-weight all walk the same (n, co, oh, ow, ci, kh, kw) taps; each only says what a tap
//! multiplies and where it adds.

use super::ConvGeom;
use crate::ops::from_f64_like;
use crate::Tensor;

/// Calls `f(x_index, w_index, y_index)` for every tap that reads inside the image (taps on the
/// zero padding contribute nothing and are skipped).
fn for_each_tap(g: &ConvGeom, mut f: impl FnMut(usize, usize, usize)) {
    let src = |o: usize, k: usize, s: usize, p: usize, size: usize| {
        let i = (o * s + k) as isize - p as isize;
        (i >= 0 && (i as usize) < size).then_some(i as usize)
    };
    for n in 0..g.n {
        for co in 0..g.cout {
            for oh in 0..g.ho {
                for ow in 0..g.wo {
                    let yi = ((n * g.cout + co) * g.ho + oh) * g.wo + ow;
                    for ci in 0..g.cin {
                        for kh in 0..g.kh {
                            let Some(ih) = src(oh, kh, g.sh, g.ph, g.h) else {
                                continue;
                            };
                            for kw in 0..g.kw {
                                let Some(iw) = src(ow, kw, g.sw, g.pw, g.w) else {
                                    continue;
                                };
                                f(
                                    ((n * g.cin + ci) * g.h + ih) * g.w + iw,
                                    ((co * g.cin + ci) * g.kh + kh) * g.kw + kw,
                                    yi,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(super) fn forward(x: &Tensor, w: &Tensor, b: Option<&Tensor>, g: &ConvGeom) -> Tensor {
    let (xv, wv) = (x.to_vec_f64(), w.to_vec_f64());
    let mut y = vec![0f64; g.n * g.cout * g.ho * g.wo];
    if let Some(b) = b {
        let bv = b.to_vec_f64();
        for (i, v) in y.iter_mut().enumerate() {
            *v = bv[(i / (g.ho * g.wo)) % g.cout];
        }
    }
    for_each_tap(g, |xi, wi, yi| y[yi] += xv[xi] * wv[wi]);
    from_f64_like(&y, g.out_dims(), x)
}

pub(super) fn backward_data(gy: &Tensor, w: &Tensor, g: &ConvGeom) -> Tensor {
    let (gv, wv) = (gy.to_vec_f64(), w.to_vec_f64());
    let mut dx = vec![0f64; g.n * g.cin * g.h * g.w];
    for_each_tap(g, |xi, wi, yi| dx[xi] += gv[yi] * wv[wi]);
    from_f64_like(&dx, [g.n, g.cin, g.h, g.w], gy)
}

pub(super) fn backward_weight(gy: &Tensor, x: &Tensor, g: &ConvGeom) -> Tensor {
    let (gv, xv) = (gy.to_vec_f64(), x.to_vec_f64());
    let mut dw = vec![0f64; g.cout * g.cin * g.kh * g.kw];
    for_each_tap(g, |xi, wi, yi| dw[wi] += gv[yi] * xv[xi]);
    from_f64_like(&dw, [g.cout, g.cin, g.kh, g.kw], gy)
}
