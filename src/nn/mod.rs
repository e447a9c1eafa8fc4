//! Neural-network modules on the engine's ops, with PyTorch-compatible parameter names and
//! initialisations.
//!
//! Parameters live in a [`ParamGroup`]'s flat arena (one per optimizer: E+G, D, the classifier);
//! a module holds [`Param`] handles into it. Forward passes take a [`Ctx`]: with a tape the
//! parameters are tracked on it, without one the pass records nothing (inference). Non-trainable
//! buffers (BatchNorm running statistics, spectral-norm `u`) are updated in place by the
//! forward pass, outside the tape.

mod batchnorm;
mod cbn;
mod conv;
pub mod init;
mod linear;
mod param;
mod spectral;

pub use batchnorm::BatchNorm2d;
pub use cbn::ConditionalBatchNorm2d;
pub use conv::Conv2d;
pub use linear::{Embedding, Linear};
pub use param::{Param, ParamGroup, ParamSlot};
pub use spectral::{SNConv2d, SNLinear};

use crate::{Tape, Tensor};

/// How a forward pass runs: with a tape (training, gradients wanted) or without, and whether
/// BatchNorm uses batch statistics (`training`) or running ones.
#[derive(Clone, Default)]
pub struct Ctx {
    pub tape: Option<Tape>,
    pub training: bool,
}

impl Ctx {
    /// Training mode, recording on `tape`.
    pub fn train(tape: &Tape) -> Ctx {
        Ctx {
            tape: Some(tape.clone()),
            training: true,
        }
    }
    /// Evaluation mode without a tape.
    pub fn eval() -> Ctx {
        Ctx {
            tape: None,
            training: false,
        }
    }
    /// Tracks `t` on the tape if there is one.
    pub fn track(&self, t: &Tensor) -> Tensor {
        match &self.tape {
            Some(tape) => tape.track(t),
            None => t.clone(),
        }
    }
}

/// A named non-trainable tensor (BatchNorm statistics, spectral-norm `u`), for checkpoints.
pub struct NamedBuffer {
    pub name: String,
    pub tensor: Tensor,
}
