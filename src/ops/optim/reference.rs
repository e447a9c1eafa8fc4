//! The optimizer ops' reference: sequential loops, Adam and the moving average computed in f64
//! and stored as f32.

use super::AdamStep;

pub(super) fn accumulate(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

pub(super) fn adam(p: &mut [f32], g: &[f32], [m, v]: [&mut Vec<f32>; 2], h: &AdamStep) {
    let (step_size, bc2_sqrt) = h.corrections();
    for i in 0..p.len() {
        let (mut pi, mut gi) = (p[i] as f64, g[i] as f64);
        if h.cfg.weight_decay != 0.0 {
            if h.cfg.decoupled {
                pi *= 1.0 - h.cfg.lr * h.cfg.weight_decay;
            } else {
                gi += h.cfg.weight_decay * pi;
            }
        }
        let mi = h.cfg.beta1 * m[i] as f64 + (1.0 - h.cfg.beta1) * gi;
        let vi = h.cfg.beta2 * v[i] as f64 + (1.0 - h.cfg.beta2) * gi * gi;
        m[i] = mi as f32;
        v[i] = vi as f32;
        p[i] = (pi - step_size * mi / (vi.sqrt() / bc2_sqrt + h.cfg.eps)) as f32;
    }
}

/// `avg += w·(live − avg)`, in f64.
pub(super) fn ema(avg: &mut [f32], live: &[f32], w: f64) {
    for (a, &l) in avg.iter_mut().zip(live) {
        let x = *a as f64;
        *a = (x + w * (l as f64 - x)) as f32;
    }
}
