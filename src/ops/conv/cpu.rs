//! Fast f32 convolution. Stride-1 problems with rows of at least 12 outputs take the direct
//! kernels of `direct.rs` (strided ones too, rewritten as stride-1 by `phases.rs`); the rest (strided convolutions, tiny feature maps, where batching
//! images into one GEMM wins) take im2col on a chunk of images, then one GEMM per chunk:
//!
//! - Layout: the column buffer is `[Cin·Kh·Kw, nb·Ho·Wo]` (column = image-in-chunk · Ho·Wo +
//!   output pixel); chunks hold enough images that the GEMM's n ≥ 4096 (small feature maps are
//!   batched) while the buffer stays under 64 MiB. A 1×1, stride-1, unpadded conv of one image
//!   reads the input directly (no copy).
//! - Forward: `Y[Cout, nb·P] = W[Cout, K] · col[K, nb·P]`.
//! - Backward data: `dcol = Wᵀ · dY`, then col2im, parallel over (image, input channel), so no
//!   two threads write one element.
//! - Backward weight: `dW += dY · colᵀ`, accumulated chunk after chunk in a fixed order.
//! - Determinism: every sum has a fixed order for a fixed thread count.

use super::{phases, ConvGeom};
use crate::ops::from_f32_like;
use crate::ops::linear::gemm::{gemm, MatRef};
use crate::Tensor;
use rayon::prelude::*;

/// A direct backward-weight kernel: (dy, x, geometry, dw out).
type WeightGradKernel = fn(&[f32], &[f32], &ConvGeom, &mut [f32]);

const MIN_GEMM_N: usize = 4096;
const MAX_COL_ELEMS: usize = 16 << 20;

impl ConvGeom {
    fn k(&self) -> usize {
        self.cin * self.kh * self.kw
    }
    fn p(&self) -> usize {
        self.ho * self.wo
    }
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.sh == 1 && self.sw == 1 && self.ph == 0 && self.pw == 0
    }
    /// Images per chunk.
    fn chunk(&self) -> usize {
        let want = MIN_GEMM_N.div_ceil(self.p());
        let cap = (MAX_COL_ELEMS / (self.k() * self.p()).max(1)).max(1);
        want.min(cap).clamp(1, self.n)
    }
}

/// Fills `col` ([K, nb·P]) from images `n0 .. n0 + nb` of `x`.
fn im2col(x: &[f32], g: &ConvGeom, n0: usize, nb: usize, col: &mut [f32]) {
    let (p, hw) = (g.p(), g.h * g.w);
    let row_len = nb * p;
    col.par_chunks_mut(row_len)
        .enumerate()
        .for_each(|(r, row)| {
            let (ci, kh, kw) = (r / (g.kh * g.kw), (r / g.kw) % g.kh, r % g.kw);
            for b in 0..nb {
                let img = &x[((n0 + b) * g.cin + ci) * hw..][..hw];
                let dst = &mut row[b * p..(b + 1) * p];
                for oh in 0..g.ho {
                    let ih = (oh * g.sh + kh) as isize - g.ph as isize;
                    let drow = &mut dst[oh * g.wo..(oh + 1) * g.wo];
                    if ih < 0 || ih as usize >= g.h {
                        drow.fill(0.0);
                        continue;
                    }
                    let srow = &img[ih as usize * g.w..][..g.w];
                    for (ow, d) in drow.iter_mut().enumerate() {
                        let iw = (ow * g.sw + kw) as isize - g.pw as isize;
                        *d = if iw >= 0 && (iw as usize) < g.w {
                            srow[iw as usize]
                        } else {
                            0.0
                        };
                    }
                }
            }
        });
}

/// Adds `col` ([K, nb·P]) back into images `n0 .. n0 + nb` of `dx` (which holds only them).
fn col2im(col: &[f32], g: &ConvGeom, nb: usize, dx: &mut [f32]) {
    let (p, hw, taps) = (g.p(), g.h * g.w, g.kh * g.kw);
    let row_len = nb * p;
    dx.par_chunks_mut(hw).enumerate().for_each(|(bc, img)| {
        let (b, ci) = (bc / g.cin, bc % g.cin);
        for t in 0..taps {
            let (kh, kw) = (t / g.kw, t % g.kw);
            let src = &col[(ci * taps + t) * row_len + b * p..][..p];
            for oh in 0..g.ho {
                let ih = (oh * g.sh + kh) as isize - g.ph as isize;
                if ih < 0 || ih as usize >= g.h {
                    continue;
                }
                let drow = &mut img[ih as usize * g.w..][..g.w];
                let srow = &src[oh * g.wo..(oh + 1) * g.wo];
                for (ow, &v) in srow.iter().enumerate() {
                    let iw = (ow * g.sw + kw) as isize - g.pw as isize;
                    if iw >= 0 && (iw as usize) < g.w {
                        drow[iw as usize] += v;
                    }
                }
            }
        }
    });
}

/// Copies `[Cout, nb·P]` (chunk-major) into `nb` images of `[Cout, P]`, or back.
fn unchunk(src: &[f32], g: &ConvGeom, c: usize, nb: usize, dst: &mut [f32]) {
    let p = g.p();
    dst.par_chunks_mut(c * p)
        .enumerate()
        .take(nb)
        .for_each(|(b, img)| {
            for ch in 0..c {
                img[ch * p..(ch + 1) * p].copy_from_slice(&src[ch * nb * p + b * p..][..p]);
            }
        });
}
fn chunk_of(src: &[f32], g: &ConvGeom, c: usize, nb: usize, dst: &mut [f32]) {
    let p = g.p();
    dst.par_chunks_mut(nb * p)
        .enumerate()
        .for_each(|(ch, row)| {
            for b in 0..nb {
                row[b * p..(b + 1) * p].copy_from_slice(&src[(b * c + ch) * p..][..p]);
            }
        });
}

pub(super) fn forward(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &ConvGeom) -> Tensor {
    if let Some(g1) = phases::stride_one(g) {
        let xp = phases::input_tensor(x, g, &g1);
        let w1 = phases::weight_tensor(w, g, &g1);
        let y1 = forward(&xp, &w1, bias, &g1);
        let y = y1.host_f32(|v| phases::resize_output(v, g, &g1, false));
        return from_f32_like(y, g.out_dims(), x);
    }
    if super::direct::supports_forward(g) {
        // `correlate` writes every element.
        let mut y = crate::tensor::recycler::overwritten(g.n * g.cout * g.p());
        let bv = bias.map(|b| b.to_vec_f32());
        x.host_f32(|xv| {
            w.host_f32(|wv| {
                let c = super::direct::Correlation::forward(g);
                super::direct::correlate(xv, wv, bv.as_deref(), &c, &mut y)
            })
        });
        return from_f32_like(y, g.out_dims(), x);
    }
    let (k, p, nbmax) = (g.k(), g.p(), g.chunk());
    let mut y = crate::tensor::recycler::zeroed(g.n * g.cout * p);
    x.host_f32(|xv| {
        w.host_f32(|wv| {
            let wm = MatRef::row_major(wv, g.cout, k);
            let mut col = crate::tensor::recycler::Scratch::zeroed(k * nbmax * p);
            let mut tmp = crate::tensor::recycler::Scratch::zeroed(g.cout * nbmax * p);
            let mut n0 = 0;
            while n0 < g.n {
                let nb = nbmax.min(g.n - n0);
                let ydst = &mut y[n0 * g.cout * p..(n0 + nb) * g.cout * p];
                if nb == 1 {
                    let rhs = if g.is_pointwise() {
                        MatRef::row_major(&xv[n0 * g.cin * p..][..g.cin * p], k, p)
                    } else {
                        im2col(xv, g, n0, 1, &mut col[..k * p]);
                        MatRef::row_major(&col[..k * p], k, p)
                    };
                    gemm(ydst, p, false, wm, rhs, true);
                } else {
                    let col = &mut col[..k * nb * p];
                    im2col(xv, g, n0, nb, col);
                    let tmp = &mut tmp[..g.cout * nb * p];
                    gemm(
                        tmp,
                        nb * p,
                        false,
                        wm,
                        MatRef::row_major(col, k, nb * p),
                        true,
                    );
                    unchunk(tmp, g, g.cout, nb, ydst);
                }
                n0 += nb;
            }
        })
    });
    if let Some(b) = bias {
        let bv = b.to_vec_f32();
        y.par_chunks_mut(p).enumerate().for_each(|(i, plane)| {
            let v = bv[i % g.cout];
            plane.iter_mut().for_each(|e| *e += v);
        });
    }
    from_f32_like(y, g.out_dims(), x)
}

pub(super) fn backward_data(gy: &Tensor, w: &Tensor, g: &ConvGeom) -> Tensor {
    if let Some(g1) = phases::stride_one(g) {
        let dy1 = phases::grad_tensor(gy, g, &g1);
        let w1 = phases::weight_tensor(w, g, &g1);
        let dp = backward_data(&dy1, &w1, &g1);
        let dx = dp.host_f32(|v| phases::merge_input(v, g, &g1));
        return from_f32_like(dx, [g.n, g.cin, g.h, g.w], gy);
    }
    if super::direct::supports_forward(g) {
        // A stride-1 correlation of dy with the weights transposed (Cin×Cout) and flipped.
        let wv = w.to_vec_f32();
        let taps = g.kh * g.kw;
        // Every element of `wt` and `dx` is written below.
        let mut wt = crate::tensor::recycler::overwritten(wv.len());
        for co in 0..g.cout {
            for ci in 0..g.cin {
                for t in 0..taps {
                    wt[(ci * g.cout + co) * taps + (taps - 1 - t)] =
                        wv[(co * g.cin + ci) * taps + t];
                }
            }
        }
        let mut dx = crate::tensor::recycler::overwritten(g.n * g.cin * g.h * g.w);
        gy.host_f32(|dy| {
            let c = super::direct::Correlation::backward_data(g);
            super::direct::correlate(dy, &wt, None, &c, &mut dx)
        });
        return from_f32_like(dx, [g.n, g.cin, g.h, g.w], gy);
    }
    let (k, p, nbmax) = (g.k(), g.p(), g.chunk());
    let chw = g.cin * g.h * g.w;
    let mut dx = crate::tensor::recycler::zeroed(g.n * chw);
    gy.host_f32(|gv| {
        w.host_f32(|wv| {
            let wt = MatRef::row_major(wv, g.cout, k).t();
            let mut dcol = crate::tensor::recycler::Scratch::zeroed(k * nbmax * p);
            let mut tmp = crate::tensor::recycler::Scratch::zeroed(g.cout * nbmax * p);
            let mut n0 = 0;
            while n0 < g.n {
                let nb = nbmax.min(g.n - n0);
                let gsrc = &gv[n0 * g.cout * p..(n0 + nb) * g.cout * p];
                let dxc = &mut dx[n0 * chw..(n0 + nb) * chw];
                let rhs = if nb == 1 {
                    MatRef::row_major(gsrc, g.cout, p)
                } else {
                    chunk_of(gsrc, g, g.cout, nb, &mut tmp[..g.cout * nb * p]);
                    MatRef::row_major(&tmp[..g.cout * nb * p], g.cout, nb * p)
                };
                if nb == 1 && g.is_pointwise() {
                    gemm(dxc, p, false, wt, rhs, true);
                } else {
                    let dcol = &mut dcol[..k * nb * p];
                    gemm(dcol, nb * p, false, wt, rhs, true);
                    col2im(dcol, g, nb, dxc);
                }
                n0 += nb;
            }
        })
    });
    from_f32_like(dx, [g.n, g.cin, g.h, g.w], gy)
}

pub(super) fn backward_weight(gy: &Tensor, x: &Tensor, g: &ConvGeom) -> Tensor {
    if let Some(g1) = phases::stride_one(g) {
        let dy1 = phases::grad_tensor(gy, g, &g1);
        let xp = phases::input_tensor(x, g, &g1);
        let dw1 = backward_weight(&dy1, &xp, &g1);
        let dw = dw1.host_f32(|v| phases::merge_weight(v, g, &g1));
        return from_f32_like(dw, [g.cout, g.cin, g.kh, g.kw], gy);
    }
    let direct: Option<WeightGradKernel> = if super::wgrad_outer::supports(g) {
        Some(super::wgrad_outer::weight_grad)
    } else if super::wgrad_lanes::supports(g) {
        Some(super::wgrad_lanes::weight_grad)
    } else {
        None
    };
    if let Some(kernel) = direct {
        let mut dw = crate::tensor::recycler::zeroed(g.cout * g.k());
        gy.host_f32(|dy| x.host_f32(|xv| kernel(dy, xv, g, &mut dw)));
        return from_f32_like(dw, [g.cout, g.cin, g.kh, g.kw], gy);
    }
    let (k, p, nbmax) = (g.k(), g.p(), g.chunk());
    let mut dw = crate::tensor::recycler::zeroed(g.cout * k);
    gy.host_f32(|gv| {
        x.host_f32(|xv| {
            let mut col = crate::tensor::recycler::Scratch::zeroed(k * nbmax * p);
            let mut tmp = crate::tensor::recycler::Scratch::zeroed(g.cout * nbmax * p);
            let mut n0 = 0;
            while n0 < g.n {
                let nb = nbmax.min(g.n - n0);
                let gsrc = &gv[n0 * g.cout * p..(n0 + nb) * g.cout * p];
                let lhs = if nb == 1 {
                    MatRef::row_major(gsrc, g.cout, p)
                } else {
                    chunk_of(gsrc, g, g.cout, nb, &mut tmp[..g.cout * nb * p]);
                    MatRef::row_major(&tmp[..g.cout * nb * p], g.cout, nb * p)
                };
                let rhs = if nb == 1 && g.is_pointwise() {
                    MatRef::row_major(&xv[n0 * g.cin * p..][..g.cin * p], k, p).t()
                } else {
                    im2col(xv, g, n0, nb, &mut col[..k * nb * p]);
                    MatRef::row_major(&col[..k * nb * p], k, nb * p).t()
                };
                gemm(&mut dw, k, n0 > 0, lhs, rhs, true);
                n0 += nb;
            }
        })
    });
    from_f32_like(dw, [g.cout, g.cin, g.kh, g.kw], gy)
}
