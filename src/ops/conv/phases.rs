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

/// Calls `f(input_index, phase_index)` for every input pixel: where it sits in `x`
/// (N × Cin × H × W) and in the phase planes (N × Cin·s² × hq × wq).
fn for_each_pixel(g: &ConvGeom, g1: &ConvGeom, mut f: impl FnMut(usize, usize)) {
    let s = g.sh;
    for n in 0..g.n {
        for ci in 0..g.cin {
            for r in 0..g.h {
                let (i, a) = ((r + g.ph) / s, (r + g.ph) % s);
                for c in 0..g.w {
                    let (j, b) = ((c + g.pw) / s, (c + g.pw) % s);
                    let ch = (ci * s + a) * s + b;
                    f(
                        ((n * g.cin + ci) * g.h + r) * g.w + c,
                        ((n * g1.cin + ch) * g1.h + i) * g1.w + j,
                    );
                }
            }
        }
    }
}

/// Calls `f(weight_index, phase_weight_index)` for every tap of `w` (Cout × Cin × Kh × Kw) and
/// its place in `w'` (Cout × Cin·s² × ⌈Kh/s⌉ × ⌈Kw/s⌉).
fn for_each_tap(g: &ConvGeom, g1: &ConvGeom, mut f: impl FnMut(usize, usize)) {
    let s = g.sh;
    for co in 0..g.cout {
        for ci in 0..g.cin {
            for kh in 0..g.kh {
                for kw in 0..g.kw {
                    let ch = (ci * s + kh % s) * s + kw % s;
                    f(
                        ((co * g.cin + ci) * g.kh + kh) * g.kw + kw,
                        ((co * g1.cin + ch) * g1.kh + kh / s) * g1.kw + kw / s,
                    );
                }
            }
        }
    }
}

/// The phase planes of `x` (N × Cin·s² × hq × wq; zeros on the padding).
pub(super) fn split_input(x: &[f32], g: &ConvGeom, g1: &ConvGeom) -> Vec<f32> {
    let mut out = crate::tensor::recycler::zeroed(g1.n * g1.cin * g1.h * g1.w);
    for_each_pixel(g, g1, |xi, pi| out[pi] = x[xi]);
    out
}

/// The gradient of the input from the phase planes' gradient (each input pixel is in exactly
/// one phase plane, so this is a gather).
pub(super) fn merge_input(dp: &[f32], g: &ConvGeom, g1: &ConvGeom) -> Vec<f32> {
    let mut dx = crate::tensor::recycler::zeroed(g.n * g.cin * g.h * g.w);
    for_each_pixel(g, g1, |xi, pi| dx[xi] = dp[pi]);
    dx
}

/// `w'` from `w` (zeros where s·k' + phase runs past the kernel).
pub(super) fn split_weight(w: &[f32], g: &ConvGeom, g1: &ConvGeom) -> Vec<f32> {
    let mut out = crate::tensor::recycler::zeroed(g.cout * g1.cin * g1.kh * g1.kw);
    for_each_tap(g, g1, |wi, w1i| out[w1i] = w[wi]);
    out
}

/// `dw` from `dw'` (inverse of `split_weight` on the taps that exist).
pub(super) fn merge_weight(dw1: &[f32], g: &ConvGeom, g1: &ConvGeom) -> Vec<f32> {
    let mut out = crate::tensor::recycler::zeroed(g.cout * g.cin * g.kh * g.kw);
    for_each_tap(g, g1, |wi, w1i| out[wi] = dw1[w1i]);
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
    let mut out = crate::tensor::recycler::zeroed(g.n * g.cout * to.0 * to.1);
    for plane in 0..g.n * g.cout {
        for r in 0..rows {
            out[(plane * to.0 + r) * to.1..][..cols]
                .copy_from_slice(&y[(plane * from.0 + r) * from.1..][..cols]);
        }
    }
    out
}

/// The phase planes of `x` as a tensor (for the recursive stride-1 calls).
pub(super) fn input_tensor(x: &Tensor, g: &ConvGeom, g1: &ConvGeom) -> Tensor {
    let planes = x.host_f32(|v| split_input(v, g, g1));
    from_f32_like(planes, [g1.n, g1.cin, g1.h, g1.w], x)
}

/// `w'` as a tensor.
pub(super) fn weight_tensor(w: &Tensor, g: &ConvGeom, g1: &ConvGeom) -> Tensor {
    let w1 = w.host_f32(|v| split_weight(v, g, g1));
    from_f32_like(w1, [g1.cout, g1.cin, g1.kh, g1.kw], w)
}

/// The strided output gradient padded with zeros to the stride-1 output size.
pub(super) fn grad_tensor(gy: &Tensor, g: &ConvGeom, g1: &ConvGeom) -> Tensor {
    let grown = gy.host_f32(|v| resize_output(v, g, g1, true));
    from_f32_like(grown, g1.out_dims(), gy)
}
