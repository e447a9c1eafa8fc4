//! Batch-norm recalibration ("precise BN") for the classifier stage: before each validation,
//! the running statistics are recomputed under the current weights as the plain average over
//! a few fixed training batches (a no-tape pass with [`Ctx::calibrate`]), so the checkpoint
//! that is evaluated — and, if chosen, frozen for COIN — carries statistics that match its
//! weights.
//!
//! Why: with Adam at 1e-3 from scratch the weights move faster than momentum-0.1 running
//! statistics follow (they average the last ~10 batches under older weights). On the built-in
//! phantom the evaluation-mode accuracy swung between 0.99 and 0.47 (one class for every
//! slice) from one validation to the next, 40 steps apart, while the training loss stayed
//! near 0.1; recalibrated, the same weights never scored below 0.958 after step 160.
//!
//! The batches are the first `k` of an epoch of the training loader that training never
//! reaches, drawn once per stage (augmented like training batches), so a resumed run
//! recalibrates exactly as an uninterrupted one.

use crate::data::loader::Loader;
use crate::models::ResNet18;
use crate::nn::Ctx;
use crate::{no_grad, Result, Tensor};

/// The training loader's epoch the calibration batches come from (never trained on: at a
/// batch per millisecond, 2⁴⁰ epochs are decades).
const CALIBRATION_EPOCH: u64 = 1 << 40;

/// Fixed calibration batches (images only).
pub struct CalibrationBatches {
    batches: Vec<Tensor>,
}

impl CalibrationBatches {
    /// The first `k` batches of the calibration epoch of `train` (none for k = 0: off).
    pub fn draw(train: &Loader, k: usize) -> Result<CalibrationBatches> {
        let batches = if k == 0 {
            Vec::new()
        } else {
            train
                .epoch(CALIBRATION_EPOCH)
                .take(k)
                .map(|b| Ok(b?.images))
                .collect::<Result<_>>()?
        };
        Ok(CalibrationBatches { batches })
    }

    /// Recomputes `net`'s running statistics from the batches (nothing when there are none).
    pub fn recalibrate(&self, net: &ResNet18) -> Result<()> {
        recalibrate(net, &self.batches)
    }
}

/// Recomputes `net`'s batch-norm running statistics as the plain average over `batches`
/// under its current weights (nothing when there are none).
pub fn recalibrate(net: &ResNet18, batches: &[Tensor]) -> Result<()> {
    no_grad(|| {
        for (k, x) in batches.iter().enumerate() {
            net.forward(x, &Ctx::calibrate(k))?;
        }
        Ok(())
    })
}
