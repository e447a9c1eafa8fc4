//! Strided convolutions as stride-1 ones (so the direct CPU kernels serve them too).
//!
//! With stride s, output (oh, ow) reads padded input (s·oh + kh, s·ow + kw). Splitting the padded
//! input into s² phase planes `P[a][b][i][j] = xpad[s·i + a][s·j + b]` turns that into a stride-1,
//! unpadded convolution over Cin·s² channels (channel (ci·s + a)·s + b) with a ⌈K/s⌉ kernel
//! `w'[co][(ci,a,b)][kh'][kw'] = w[co][ci][s·kh' + a][s·kw' + b]` (0 past K). Its output can be
//! a row or column larger than the strided one; the extra is cropped (forward) or fed zeros
//! (backward). Backward-data scatters the phase-plane gradients back (each input pixel belongs
//! to exactly one phase, so this is a copy); backward-weight gathers w' back into w.

use super::ConvGeom;
use crate::ops::from_f32_like;
use crate::Tensor;

/// The equivalent stride-1 problem, or None when it does not pay (no stride, unequal strides,
/// or rows too short for the direct kernels).
pub(super) fn stride_one(g: &ConvGeom) -> Option<ConvGeom> {
    let s = g.sh;
    if s < 2 || g.sw != s {
        return None;
    }
    let (hp, wp) = (g.h + 2 * g.ph, g.w + 2 * g.pw);
    let (hq, wq) = (hp.div_ceil(s), wp.div_ceil(s));
    let (kh, kw) = (g.kh.div_ceil(s), g.kw.div_ceil(s));
    let g1 = ConvGeom {
        n: g.n,
        cin: g.cin * s * s,
        h: hq,
        w: wq,
        cout: g.cout,
        kh,
        kw,
        sh: 1,
        sw: 1,
        ph: 0,
        pw: 0,
        ho: hq - kh + 1,
        wo: wq - kw + 1,
    };
    (g1.wo >= 12 && g1.ho >= g.ho && g1.wo >= g.wo).then_some(g1)
}

/// The phase planes of `x` (N × Cin·s² × hq × wq).
pub(super) fn split_input(x: &[f32], g: &ConvGeom, g1: &ConvGeom) -> Vec<f32> {
    let s = g.sh;
    let mut out = crate::tensor::pool::zeroed(g1.n * g1.cin * g1.h * g1.w);
    for n in 0..g.n {
        for ci in 0..g.cin {
            let src = &x[(n * g.cin + ci) * g.h * g.w..][..g.h * g.w];
            for r in 0..g.h {
                let (i, a) = ((r + g.ph) / s, (r + g.ph) % s);
                for c in 0..g.w {
                    let (j, b) = ((c + g.pw) / s, (c + g.pw) % s);
                    let ch = (ci * s + a) * s + b;
                    out[((n * g1.cin + ch) * g1.h + i) * g1.w + j] = src[r * g.w + c];
                }
            }
        }
    }
    out
}

/// The gradient of the input from the phase planes' gradient (inverse of `split_input`).
pub(super) fn merge_input(dp: &[f32], g: &ConvGeom, g1: &ConvGeom) -> Vec<f32> {
    let s = g.sh;
    let mut dx = crate::tensor::pool::zeroed(g.n * g.cin * g.h * g.w);
    for n in 0..g.n {
        for ci in 0..g.cin {
            let dst = &mut dx[(n * g.cin + ci) * g.h * g.w..][..g.h * g.w];
            for r in 0..g.h {
                let (i, a) = ((r + g.ph) / s, (r + g.ph) % s);
                for c in 0..g.w {
                    let (j, b) = ((c + g.pw) / s, (c + g.pw) % s);
                    let ch = (ci * s + a) * s + b;
                    dst[r * g.w + c] = dp[((n * g1.cin + ch) * g1.h + i) * g1.w + j];
                }
            }
        }
    }
    dx
}

/// `w'` from `w` (zeros where s·k' + phase runs past the kernel).
pub(super) fn split_weight(w: &[f32], g: &ConvGeom, g1: &ConvGeom) -> Vec<f32> {
    let s = g.sh;
    let mut out = crate::tensor::pool::zeroed(g.cout * g1.cin * g1.kh * g1.kw);
    for co in 0..g.cout {
        for ci in 0..g.cin {
            for kh in 0..g.kh {
                for kw in 0..g.kw {
                    let ch = (ci * s + kh % s) * s + kw % s;
                    out[((co * g1.cin + ch) * g1.kh + kh / s) * g1.kw + kw / s] =
                        w[((co * g.cin + ci) * g.kh + kh) * g.kw + kw];
                }
            }
        }
    }
    out
}

/// `dw` from `dw'` (inverse of `split_weight` on the taps that exist).
pub(super) fn merge_weight(dw1: &[f32], g: &ConvGeom, g1: &ConvGeom) -> Vec<f32> {
    let s = g.sh;
    let mut out = crate::tensor::pool::zeroed(g.cout * g.cin * g.kh * g.kw);
    for co in 0..g.cout {
        for ci in 0..g.cin {
            for kh in 0..g.kh {
                for kw in 0..g.kw {
                    let ch = (ci * s + kh % s) * s + kw % s;
                    out[((co * g.cin + ci) * g.kh + kh) * g.kw + kw] =
                        dw1[((co * g1.cin + ch) * g1.kh + kh / s) * g1.kw + kw / s];
                }
            }
        }
    }
    out
}

/// Crops the stride-1 output (N × Cout × ho1 × wo1) to the strided one, or pads the strided
/// gradient with zeros to the stride-1 size (`grow`).
pub(super) fn resize_output(y: &[f32], g: &ConvGeom, g1: &ConvGeom, grow: bool) -> Vec<f32> {
    let (from, to) = if grow {
        ((g.ho, g.wo), (g1.ho, g1.wo))
    } else {
        ((g1.ho, g1.wo), (g.ho, g.wo))
    };
    let (rows, cols) = (from.0.min(to.0), from.1.min(to.1));
    let mut out = crate::tensor::pool::zeroed(g.n * g.cout * to.0 * to.1);
    for plane in 0..g.n * g.cout {
        for r in 0..rows {
            out[(plane * to.0 + r) * to.1..][..cols]
                .copy_from_slice(&y[(plane * from.0 + r) * from.1..][..cols]);
        }
    }
    out
}

/// An f32 tensor on `like`'s device (for the recursive stride-1 calls).
pub(super) fn tensor(v: Vec<f32>, dims: [usize; 4], like: &Tensor) -> Tensor {
    from_f32_like(v, dims, like)
}
