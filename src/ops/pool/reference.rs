//! Reference pooling: one output at a time, f64.

use super::MaxGeom;
use crate::ops::from_f64_like;
use crate::Tensor;

pub(super) fn avg_fwd(x: &Tensor, k: usize, ho: usize, wo: usize) -> Tensor {
    let d = x.dims();
    let (planes, h, w) = (d[0] * d[1], d[2], d[3]);
    let v = x.to_vec_f64();
    let mut out = Vec::with_capacity(planes * ho * wo);
    for pl in 0..planes {
        for oh in 0..ho {
            for ow in 0..wo {
                let mut s = 0.0;
                for i in 0..k {
                    for j in 0..k {
                        s += v[pl * h * w + (oh * k + i) * w + ow * k + j];
                    }
                }
                out.push(s / (k * k) as f64);
            }
        }
    }
    from_f64_like(&out, [d[0], d[1], ho, wo], x)
}

pub(super) fn avg_bwd(g: &Tensor, k: usize, in_dims: [usize; 4]) -> Tensor {
    let [n, c, h, w] = in_dims;
    let (ho, wo) = (g.dims()[2], g.dims()[3]);
    let gv = g.to_vec_f64();
    let mut dx = vec![0f64; n * c * h * w];
    for pl in 0..n * c {
        for oh in 0..ho {
            for ow in 0..wo {
                let d = gv[(pl * ho + oh) * wo + ow] / (k * k) as f64;
                for i in 0..k {
                    for j in 0..k {
                        dx[pl * h * w + (oh * k + i) * w + ow * k + j] += d;
                    }
                }
            }
        }
    }
    from_f64_like(&dx, in_dims, g)
}

pub(super) fn max_fwd(x: &Tensor, m: &MaxGeom) -> (Tensor, Vec<u32>) {
    let d = x.dims();
    let planes = d[0] * d[1];
    let v = x.to_vec_f64();
    let mut out = Vec::with_capacity(planes * m.ho * m.wo);
    let mut arg = Vec::with_capacity(planes * m.ho * m.wo);
    for pl in 0..planes {
        for oh in 0..m.ho {
            for ow in 0..m.wo {
                let mut best = f64::NEG_INFINITY;
                let mut bi = u32::MAX;
                for i in 0..m.k {
                    for j in 0..m.k {
                        let (ih, iw) = (
                            (oh * m.s + i) as isize - m.p as isize,
                            (ow * m.s + j) as isize - m.p as isize,
                        );
                        if ih < 0 || iw < 0 || ih as usize >= m.h || iw as usize >= m.w {
                            continue;
                        }
                        let idx = ih as usize * m.w + iw as usize;
                        let val = v[pl * m.h * m.w + idx];
                        if bi == u32::MAX || val > best || val.is_nan() && !best.is_nan() {
                            best = val;
                            bi = idx as u32;
                        }
                    }
                }
                out.push(best);
                arg.push(bi);
            }
        }
    }
    (from_f64_like(&out, [d[0], d[1], m.ho, m.wo], x), arg)
}

pub(super) fn max_bwd(g: &Tensor, arg: &[u32], m: &MaxGeom, in_dims: [usize; 4]) -> Tensor {
    let gv = g.to_vec_f64();
    let mut dx = vec![0f64; in_dims.iter().product()];
    let per = m.ho * m.wo;
    for (i, &a) in arg.iter().enumerate() {
        dx[(i / per) * m.h * m.w + a as usize] += gv[i];
    }
    from_f64_like(&dx, in_dims, g)
}
