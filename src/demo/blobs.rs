//! Noisy images with a soft background gradient; label 1 images carry an added Gaussian blob
//! (σ 1.5–3 px, amplitude 0.6–1.0) at a random position. Every batch is a pure function of
//! (seed, batch index), so runs are reproducible.

use crate::rng::Rng;
use crate::{Device, Result, Tensor};

pub struct BlobBatch {
    /// N×1×S×S images, roughly in [−1, 1].
    pub images: Tensor,
    /// N×1 labels (0 or 1) as f32.
    pub labels: Tensor,
}

/// Batch number `index` of the stream `seed`.
pub fn blob_batch(
    seed: u64,
    index: u64,
    n: usize,
    size: usize,
    device: Device,
) -> Result<BlobBatch> {
    let mut img = Vec::with_capacity(n * size * size);
    let mut lab = Vec::with_capacity(n);
    for i in 0..n {
        let mut r = Rng::keyed(seed, &[index, i as u64]);
        let label = (r.uniform() < 0.5) as u8;
        let (gx, gy) = (r.uniform_range(-0.3, 0.3), r.uniform_range(-0.3, 0.3));
        let (cx, cy) = (
            r.uniform_range(4.0, size as f64 - 4.0),
            r.uniform_range(4.0, size as f64 - 4.0),
        );
        let (sigma, amp) = (r.uniform_range(1.5, 3.0), r.uniform_range(0.6, 1.0));
        for y in 0..size {
            for x in 0..size {
                let (u, v) = (x as f64 / size as f64 - 0.5, y as f64 / size as f64 - 0.5);
                let mut p = -0.4 + gx * u + gy * v + 0.15 * r.normal();
                if label == 1 {
                    let d2 = (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2);
                    p += amp * (-d2 / (2.0 * sigma * sigma)).exp();
                }
                img.push(p as f32);
            }
        }
        lab.push(label as f32);
    }
    Ok(BlobBatch {
        images: Tensor::from_f32(img, [n, 1, size, size], device)?,
        labels: Tensor::from_f32(lab, [n, 1], device)?,
    })
}
