//! Reference convolution: the textbook loops, f64 accumulation.

use super::ConvGeom;
use crate::ops::from_f64_like;
use crate::Tensor;

/// Input coordinate read by output (o) through kernel tap (k), if inside the image.
#[inline]
fn src(o: usize, k: usize, s: usize, p: usize, size: usize) -> Option<usize> {
    let i = (o * s + k) as isize - p as isize;
    (i >= 0 && (i as usize) < size).then_some(i as usize)
}

pub(super) fn forward(x: &Tensor, w: &Tensor, b: Option<&Tensor>, g: &ConvGeom) -> Tensor {
    let (xv, wv) = (x.to_vec_f64(), w.to_vec_f64());
    let bv = b.map(|b| b.to_vec_f64());
    let mut y = vec![0f64; g.n * g.cout * g.ho * g.wo];
    for n in 0..g.n {
        for co in 0..g.cout {
            for oh in 0..g.ho {
                for ow in 0..g.wo {
                    let mut acc = bv.as_ref().map_or(0.0, |b| b[co]);
                    for ci in 0..g.cin {
                        for kh in 0..g.kh {
                            let Some(ih) = src(oh, kh, g.sh, g.ph, g.h) else {
                                continue;
                            };
                            for kw in 0..g.kw {
                                let Some(iw) = src(ow, kw, g.sw, g.pw, g.w) else {
                                    continue;
                                };
                                acc += xv[((n * g.cin + ci) * g.h + ih) * g.w + iw]
                                    * wv[((co * g.cin + ci) * g.kh + kh) * g.kw + kw];
                            }
                        }
                    }
                    y[((n * g.cout + co) * g.ho + oh) * g.wo + ow] = acc;
                }
            }
        }
    }
    from_f64_like(&y, g.out_dims(), x)
}

pub(super) fn backward_data(gy: &Tensor, w: &Tensor, g: &ConvGeom) -> Tensor {
    let (gv, wv) = (gy.to_vec_f64(), w.to_vec_f64());
    let mut dx = vec![0f64; g.n * g.cin * g.h * g.w];
    for n in 0..g.n {
        for co in 0..g.cout {
            for oh in 0..g.ho {
                for ow in 0..g.wo {
                    let d = gv[((n * g.cout + co) * g.ho + oh) * g.wo + ow];
                    for ci in 0..g.cin {
                        for kh in 0..g.kh {
                            let Some(ih) = src(oh, kh, g.sh, g.ph, g.h) else {
                                continue;
                            };
                            for kw in 0..g.kw {
                                let Some(iw) = src(ow, kw, g.sw, g.pw, g.w) else {
                                    continue;
                                };
                                dx[((n * g.cin + ci) * g.h + ih) * g.w + iw] +=
                                    d * wv[((co * g.cin + ci) * g.kh + kh) * g.kw + kw];
                            }
                        }
                    }
                }
            }
        }
    }
    from_f64_like(&dx, [g.n, g.cin, g.h, g.w], gy)
}

pub(super) fn backward_weight(gy: &Tensor, x: &Tensor, g: &ConvGeom) -> Tensor {
    let (gv, xv) = (gy.to_vec_f64(), x.to_vec_f64());
    let mut dw = vec![0f64; g.cout * g.cin * g.kh * g.kw];
    for n in 0..g.n {
        for co in 0..g.cout {
            for oh in 0..g.ho {
                for ow in 0..g.wo {
                    let d = gv[((n * g.cout + co) * g.ho + oh) * g.wo + ow];
                    for ci in 0..g.cin {
                        for kh in 0..g.kh {
                            let Some(ih) = src(oh, kh, g.sh, g.ph, g.h) else {
                                continue;
                            };
                            for kw in 0..g.kw {
                                let Some(iw) = src(ow, kw, g.sw, g.pw, g.w) else {
                                    continue;
                                };
                                dw[((co * g.cin + ci) * g.kh + kh) * g.kw + kw] +=
                                    d * xv[((n * g.cin + ci) * g.h + ih) * g.w + iw];
                            }
                        }
                    }
                }
            }
        }
    }
    from_f64_like(&dw, [g.cout, g.cin, g.kh, g.kw], gy)
}
