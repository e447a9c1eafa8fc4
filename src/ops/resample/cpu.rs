//! Fast f32 resampling: one task per plane; interpolation taps precomputed per row and column;
//! backward scatters within the plane (race-free, fixed order).

use super::bilinear_src;
use crate::ops::from_f32_like;
use crate::Tensor;
use rayon::prelude::*;

pub(super) fn nearest_fwd(x: &Tensor, s: usize) -> Tensor {
    let d = x.dims();
    let (h, w) = (d[2], d[3]);
    let (ho, wo) = (h * s, w * s);
    let out = x.host_f32(|v| {
        let mut out = crate::tensor::recycler::overwritten(d[0] * d[1] * ho * wo);
        out.par_chunks_mut(ho * wo)
            .zip(v.par_chunks(h * w))
            .for_each(|(o, src)| {
                for i in 0..h {
                    let row = &mut o[i * s * wo..(i * s + 1) * wo];
                    for (j, &val) in src[i * w..(i + 1) * w].iter().enumerate() {
                        row[j * s..(j + 1) * s].fill(val);
                    }
                    for r in 1..s {
                        o.copy_within(i * s * wo..(i * s + 1) * wo, (i * s + r) * wo);
                    }
                }
            });
        out
    });
    from_f32_like(out, [d[0], d[1], ho, wo], x)
}

pub(super) fn nearest_bwd(g: &Tensor, s: usize, in_dims: [usize; 4]) -> Tensor {
    let [n, c, h, w] = in_dims;
    let wo = w * s;
    let dx = g.host_f32(|gv| {
        let mut dx = crate::tensor::recycler::zeroed(n * c * h * w);
        dx.par_chunks_mut(h * w)
            .zip(gv.par_chunks(h * s * wo))
            .for_each(|(d, gp)| {
                for i in 0..h {
                    for r in 0..s {
                        let row = &gp[(i * s + r) * wo..][..wo];
                        for (j, e) in d[i * w..(i + 1) * w].iter_mut().enumerate() {
                            *e += row[j * s..(j + 1) * s].iter().sum::<f32>();
                        }
                    }
                }
            });
        dx
    });
    from_f32_like(dx, in_dims, g)
}

type Taps = Vec<(usize, usize, f32)>;

fn taps(inp: usize, out: usize, ac: bool) -> Taps {
    (0..out)
        .map(|o| {
            let (a, b, l) = bilinear_src(o, inp, out, ac);
            (a, b, l as f32)
        })
        .collect()
}

pub(super) fn bilinear_fwd(x: &Tensor, oh: usize, ow: usize, ac: bool) -> Tensor {
    let d = x.dims();
    let (h, w) = (d[2], d[3]);
    let (ty, tx) = (taps(h, oh, ac), taps(w, ow, ac));
    let out = x.host_f32(|v| {
        let mut out = crate::tensor::recycler::overwritten(d[0] * d[1] * oh * ow);
        out.par_chunks_mut(oh * ow)
            .zip(v.par_chunks(h * w))
            .for_each(|(o, p)| {
                for (i, &(y0, y1, ly)) in ty.iter().enumerate() {
                    let (r0, r1) = (&p[y0 * w..][..w], &p[y1 * w..][..w]);
                    for (j, &(x0, x1, lx)) in tx.iter().enumerate() {
                        let top = r0[x0] + lx * (r0[x1] - r0[x0]);
                        let bot = r1[x0] + lx * (r1[x1] - r1[x0]);
                        o[i * ow + j] = top + ly * (bot - top);
                    }
                }
            });
        out
    });
    from_f32_like(out, [d[0], d[1], oh, ow], x)
}

pub(super) fn bilinear_bwd(g: &Tensor, in_dims: [usize; 4], ac: bool) -> Tensor {
    let [n, c, h, w] = in_dims;
    let (oh, ow) = (g.dims()[2], g.dims()[3]);
    let (ty, tx) = (taps(h, oh, ac), taps(w, ow, ac));
    let dx = g.host_f32(|gv| {
        let mut dx = crate::tensor::recycler::zeroed(n * c * h * w);
        dx.par_chunks_mut(h * w)
            .zip(gv.par_chunks(oh * ow))
            .for_each(|(d, gp)| {
                for (i, &(y0, y1, ly)) in ty.iter().enumerate() {
                    for (j, &(x0, x1, lx)) in tx.iter().enumerate() {
                        let v = gp[i * ow + j];
                        let (top, bot) = (v * (1.0 - ly), v * ly);
                        d[y0 * w + x0] += top * (1.0 - lx);
                        d[y0 * w + x1] += top * lx;
                        d[y1 * w + x0] += bot * (1.0 - lx);
                        d[y1 * w + x1] += bot * lx;
                    }
                }
            });
        dx
    });
    from_f32_like(dx, in_dims, g)
}
