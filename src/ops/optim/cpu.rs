//! Adam and the moving average on the fast CPU path: f32, in parallel chunks (each element independent, so the
//! result does not depend on the split).

use super::AdamStep;
use rayon::prelude::*;

pub(super) fn adam(p: &mut [f32], g: &[f32], [m, v]: [&mut Vec<f32>; 2], h: &AdamStep) {
    let (step_size, bc2_sqrt) = h.corrections();
    let (step_size, bc2_sqrt) = (step_size as f32, bc2_sqrt as f32);
    let (b1, b2, eps, wd, lr) = (
        h.cfg.beta1 as f32,
        h.cfg.beta2 as f32,
        h.cfg.eps as f32,
        h.cfg.weight_decay as f32,
        h.cfg.lr as f32,
    );
    let decoupled = h.cfg.decoupled;
    p.par_iter_mut()
        .zip(g.par_iter())
        .zip(m.par_iter_mut().zip(v.par_iter_mut()))
        .with_min_len(4096)
        .for_each(|((p, &g), (m, v))| {
            let mut g = g;
            if wd != 0.0 {
                if decoupled {
                    *p *= 1.0 - lr * wd;
                } else {
                    g += wd * *p;
                }
            }
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            let denom = v.sqrt() / bc2_sqrt + eps;
            *p -= step_size * *m / denom;
        });
}

/// `avg += w·(live − avg)`, in parallel chunks.
pub(super) fn ema(avg: &mut [f32], live: &[f32], w: f32) {
    avg.par_iter_mut()
        .zip(live.par_iter())
        .with_min_len(4096)
        .for_each(|(a, &l)| *a += w * (l - *a));
}
