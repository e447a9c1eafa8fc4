//! Neural-network modules on the engine's ops, with PyTorch-compatible names and
//! initialisations.
//!
//! Parameters live in a [`ParamGroup`]'s flat arena (one per optimizer: E+G, D, the classifier);
//! a module holds [`Param`] handles into it. Constructors take a [`Scope`] (a dotted prefix over
//! a group, `g.scope("layer1.0.conv1")`) and a config struct with PyTorch's defaults, and
//! register every parameter and buffer they own, so a group's [`ParamGroup::named_tensors`] is
//! its complete `state_dict`. Forward passes take a [`Ctx`] (tape or not, batch or running
//! statistics). Non-trainable buffers (BatchNorm running statistics, spectral-norm `u`) are
//! updated by the forward pass, outside the tape.

mod batchnorm;
mod buffer;
mod cbn;
mod conv;
mod embedding;
pub mod init;
mod linear;
mod param;
mod scope;
mod spectral;
mod state;

pub use batchnorm::{BatchNorm2d, BatchNormCfg};
pub use buffer::BufferHandle;
pub use cbn::{CbnCfg, ConditionalBatchNorm2d};
pub use conv::{Conv2d, Conv2dCfg};
pub use embedding::{Embedding, EmbeddingCfg};
pub use linear::{Linear, LinearCfg};
pub use param::{Param, ParamGroup, ParamSlot};
pub use scope::Scope;
pub use spectral::{SNConv2d, SNLinear};
pub use state::{load_named, named_tensors};

use crate::{Tape, Tensor};

/// How a forward pass runs: with a tape or without, with batch statistics (training) or
/// running ones, and whether the module's own parameters are recorded.
#[derive(Clone)]
pub struct Ctx {
    tape: Option<Tape>,
    training: bool,
    track_params: bool,
    /// Overrides every batch norm's momentum (calibration: a cumulative average).
    bn_momentum: Option<f64>,
}

impl Ctx {
    /// Training: batch statistics (running statistics updated), parameters and activations
    /// recorded on `tape`.
    pub fn train(tape: &Tape) -> Ctx {
        Ctx {
            tape: Some(tape.clone()),
            training: true,
            track_params: true,
            bn_momentum: None,
        }
    }
    /// Training statistics without a tape: BatchNorm normalises with (and updates its running
    /// statistics from) the batch, nothing is recorded (the authors' E/G forward on D-only
    /// steps).
    pub fn train_no_tape() -> Ctx {
        Ctx {
            tape: None,
            training: true,
            track_params: false,
            bn_momentum: None,
        }
    }
    /// Evaluation: running statistics, no tape (inference).
    pub fn eval() -> Ctx {
        Ctx {
            tape: None,
            training: false,
            track_params: false,
            bn_momentum: None,
        }
    }
    /// A frozen network inside a training step: running statistics, activations recorded on
    /// `tape` so gradients flow through to the input, parameters not recorded (no gradient can
    /// land on them).
    pub fn frozen(tape: &Tape) -> Ctx {
        Ctx {
            tape: Some(tape.clone()),
            training: false,
            track_params: false,
            bn_momentum: None,
        }
    }
    /// Recalibration of running statistics: batch statistics, no tape, and every batch norm
    /// folds batch `k` (0-based) of a calibration pass into its running statistics with
    /// momentum 1/(k + 1), so after K batches they are the plain average of the K batches'
    /// statistics under the current weights (batch 0 replaces whatever was there).
    pub fn calibrate(k: usize) -> Ctx {
        Ctx {
            tape: None,
            training: true,
            track_params: false,
            bn_momentum: Some(1.0 / (k as f64 + 1.0)),
        }
    }
    /// The momentum batch norms use instead of their own (a calibration pass), if any.
    pub fn bn_momentum(&self) -> Option<f64> {
        self.bn_momentum
    }
    /// Whether BatchNorm uses batch statistics.
    pub fn training(&self) -> bool {
        self.training
    }
    pub fn tape(&self) -> Option<&Tape> {
        self.tape.as_ref()
    }
    /// A parameter's tensor as this context uses it: tracked when parameters are recorded; in a
    /// frozen context detached (a fresh id), so ops recorded on the tape never name the
    /// parameter and no backward can reach it.
    pub(crate) fn param(&self, t: &Tensor) -> Tensor {
        match (&self.tape, self.track_params) {
            (Some(tape), true) => tape.track(t),
            (Some(_), false) => t.detach(),
            (None, _) => t.clone(),
        }
    }
}
