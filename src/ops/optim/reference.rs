//! The optimizer ops' reference: sequential loops, Adam computed in f64 and stored as f32.

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
        if h.weight_decay != 0.0 {
            if h.decoupled {
                pi *= 1.0 - h.lr * h.weight_decay;
            } else {
                gi += h.weight_decay * pi;
            }
        }
        let mi = h.beta1 * m[i] as f64 + (1.0 - h.beta1) * gi;
        let vi = h.beta2 * v[i] as f64 + (1.0 - h.beta2) * gi * gi;
        m[i] = mi as f32;
        v[i] = vi as f32;
        p[i] = (pi - step_size * mi / (vi.sqrt() / bc2_sqrt + h.eps)) as f32;
    }
}
