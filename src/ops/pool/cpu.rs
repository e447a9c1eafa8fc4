//! Fast f32 pooling: one task per (image, channel) plane; backward scatters within the plane
//! (no two tasks share a plane, so it is race-free and deterministic).

use super::MaxGeom;
use crate::ops::from_f32_like;
use crate::Tensor;
use rayon::prelude::*;

pub(super) fn avg_fwd(x: &Tensor, k: usize, ho: usize, wo: usize) -> Tensor {
    let d = x.dims();
    let (h, w) = (d[2], d[3]);
    let inv = 1.0 / (k * k) as f32;
    let out = x.host_f32(|v| {
        let mut out = crate::tensor::recycler::overwritten(d[0] * d[1] * ho * wo);
        out.par_chunks_mut(ho * wo)
            .zip(v.par_chunks(h * w))
            .for_each(|(o, src)| {
                for oh in 0..ho {
                    let orow = &mut o[oh * wo..(oh + 1) * wo];
                    if k == 2 {
                        // The common 2×2 case, in the same order as the loop below:
                        // (r0[0] + r0[1]) + (r1[0] + r1[1]) (up to the sign of a zero).
                        let r0 = &src[2 * oh * w..][..2 * wo];
                        let r1 = &src[(2 * oh + 1) * w..][..2 * wo];
                        for ((e, a), b) in orow
                            .iter_mut()
                            .zip(r0.chunks_exact(2))
                            .zip(r1.chunks_exact(2))
                        {
                            *e = ((a[0] + a[1]) + (b[0] + b[1])) * inv;
                        }
                        continue;
                    }
                    for (ow, e) in orow.iter_mut().enumerate() {
                        let mut s = 0f32;
                        for i in 0..k {
                            let row = &src[(oh * k + i) * w + ow * k..][..k];
                            s += row.iter().sum::<f32>();
                        }
                        *e = s * inv;
                    }
                }
            });
        out
    });
    from_f32_like(out, [d[0], d[1], ho, wo], x)
}

pub(super) fn avg_bwd(g: &Tensor, k: usize, in_dims: [usize; 4]) -> Tensor {
    let [n, c, h, w] = in_dims;
    let (ho, wo) = (g.dims()[2], g.dims()[3]);
    let inv = 1.0 / (k * k) as f32;
    let dx = g.host_f32(|gv| {
        // Every element is written when the windows tile the plane exactly.
        let mut dx = if h == ho * k && w == wo * k {
            crate::tensor::recycler::overwritten(n * c * h * w)
        } else {
            crate::tensor::recycler::zeroed(n * c * h * w)
        };
        dx.par_chunks_mut(h * w)
            .zip(gv.par_chunks(ho * wo))
            .for_each(|(d, gp)| {
                for oh in 0..ho {
                    for i in 0..k {
                        let row = &mut d[(oh * k + i) * w..][..wo * k];
                        for ow in 0..wo {
                            let v = gp[oh * wo + ow] * inv;
                            row[ow * k..(ow + 1) * k].iter_mut().for_each(|e| *e = v);
                        }
                    }
                }
            });
        dx
    });
    from_f32_like(dx, in_dims, g)
}

pub(super) fn max_fwd(x: &Tensor, m: &MaxGeom) -> (Tensor, Vec<u32>) {
    let d = x.dims();
    let per = m.ho * m.wo;
    let (out, arg) = x.host_f32(|v| {
        let mut out = crate::tensor::recycler::zeroed(d[0] * d[1] * per);
        let mut arg = vec![0u32; d[0] * d[1] * per];
        out.par_chunks_mut(per)
            .zip(arg.par_chunks_mut(per))
            .zip(v.par_chunks(m.h * m.w))
            .for_each(|((o, a), src)| {
                for oh in 0..m.ho {
                    let h0 = (oh * m.s) as isize - m.p as isize;
                    for ow in 0..m.wo {
                        let w0 = (ow * m.s) as isize - m.p as isize;
                        let mut best = f32::NEG_INFINITY;
                        let mut bi = u32::MAX;
                        for ih in h0.max(0)..(h0 + m.k as isize).min(m.h as isize) {
                            for iw in w0.max(0)..(w0 + m.k as isize).min(m.w as isize) {
                                let idx = ih as usize * m.w + iw as usize;
                                let val = src[idx];
                                if bi == u32::MAX || val > best || val.is_nan() && !best.is_nan() {
                                    best = val;
                                    bi = idx as u32;
                                }
                            }
                        }
                        o[oh * m.wo + ow] = best;
                        a[oh * m.wo + ow] = bi;
                    }
                }
            });
        (out, arg)
    });
    (from_f32_like(out, [d[0], d[1], m.ho, m.wo], x), arg)
}

pub(super) fn max_bwd(g: &Tensor, arg: &[u32], m: &MaxGeom, in_dims: [usize; 4]) -> Tensor {
    let per = m.ho * m.wo;
    let dx = g.host_f32(|gv| {
        let mut dx = crate::tensor::recycler::zeroed(in_dims.iter().product());
        dx.par_chunks_mut(m.h * m.w)
            .zip(gv.par_chunks(per))
            .zip(arg.par_chunks(per))
            .for_each(|((d, gp), ap)| {
                for (&v, &a) in gp.iter().zip(ap) {
                    d[a as usize] += v;
                }
            });
        dx
    });
    from_f32_like(dx, in_dims, g)
}
