//! Reference resampling: per output pixel, f64.

use super::bilinear_src;
use crate::ops::from_f64_like;
use crate::Tensor;

pub(super) fn nearest_fwd(x: &Tensor, s: usize) -> Tensor {
    let d = x.dims();
    let (h, w) = (d[2], d[3]);
    let v = x.to_vec_f64();
    let (ho, wo) = (h * s, w * s);
    let out: Vec<f64> = (0..d[0] * d[1] * ho * wo)
        .map(|i| {
            let (pl, r) = (i / (ho * wo), i % (ho * wo));
            v[pl * h * w + (r / wo / s) * w + (r % wo) / s]
        })
        .collect();
    from_f64_like(&out, [d[0], d[1], ho, wo], x)
}

pub(super) fn nearest_bwd(g: &Tensor, s: usize, in_dims: [usize; 4]) -> Tensor {
    let [n, c, h, w] = in_dims;
    let (ho, wo) = (h * s, w * s);
    let gv = g.to_vec_f64();
    let mut dx = vec![0f64; n * c * h * w];
    for (i, &v) in gv.iter().enumerate() {
        let (pl, r) = (i / (ho * wo), i % (ho * wo));
        dx[pl * h * w + (r / wo / s) * w + (r % wo) / s] += v;
    }
    from_f64_like(&dx, in_dims, g)
}

pub(super) fn bilinear_fwd(x: &Tensor, oh: usize, ow: usize, ac: bool) -> Tensor {
    let d = x.dims();
    let (h, w) = (d[2], d[3]);
    let v = x.to_vec_f64();
    let mut out = Vec::with_capacity(d[0] * d[1] * oh * ow);
    for pl in 0..d[0] * d[1] {
        let p = &v[pl * h * w..(pl + 1) * h * w];
        for i in 0..oh {
            let (y0, y1, ly) = bilinear_src(i, h, oh, ac);
            for j in 0..ow {
                let (x0, x1, lx) = bilinear_src(j, w, ow, ac);
                out.push(
                    (1.0 - ly) * ((1.0 - lx) * p[y0 * w + x0] + lx * p[y0 * w + x1])
                        + ly * ((1.0 - lx) * p[y1 * w + x0] + lx * p[y1 * w + x1]),
                );
            }
        }
    }
    from_f64_like(&out, [d[0], d[1], oh, ow], x)
}

pub(super) fn bilinear_bwd(g: &Tensor, in_dims: [usize; 4], ac: bool) -> Tensor {
    let [n, c, h, w] = in_dims;
    let (oh, ow) = (g.dims()[2], g.dims()[3]);
    let gv = g.to_vec_f64();
    let mut dx = vec![0f64; n * c * h * w];
    for pl in 0..n * c {
        for i in 0..oh {
            let (y0, y1, ly) = bilinear_src(i, h, oh, ac);
            for j in 0..ow {
                let (x0, x1, lx) = bilinear_src(j, w, ow, ac);
                let d = gv[(pl * oh + i) * ow + j];
                let base = pl * h * w;
                dx[base + y0 * w + x0] += (1.0 - ly) * (1.0 - lx) * d;
                dx[base + y0 * w + x1] += (1.0 - ly) * lx * d;
                dx[base + y1 * w + x0] += ly * (1.0 - lx) * d;
                dx[base + y1 * w + x1] += ly * lx * d;
            }
        }
    }
    from_f64_like(&dx, in_dims, g)
}
