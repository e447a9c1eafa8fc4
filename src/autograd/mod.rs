//! Reverse-mode autodiff on an explicit tape.
//!
//! - A [`Tape`] records each op whose inputs are tracked on it. Start tracking with
//!   [`Tape::track`] (inputs, activations) or a parameter group's `tensors_on(tape)`.
//! - [`Tape::backward`] walks the tape once, newest entry first, computing gradients only for the
//!   tensors asked for (a parameter group, an input, an intermediate activation) and only along
//!   paths that reach them: the G step gives no gradients to the discriminator's weights, and a
//!   frozen classifier none to its own. Each entry's saved activations are dropped as soon as its
//!   backward has run. A tensor consumed twice receives the sum of its gradients.
//! - [`no_grad`] runs a closure without recording; [`Tensor::detach`] cuts one tensor loose.
//!   Inference needs no tape at all: untracked tensors record nothing.
//! - Backward consumes the tape (no `retain_graph`), and there is no double backward: backward
//!   rules run on untracked tensors, so R1/R2 penalties (COIN_Aligned) are out of reach for now.

mod grad_mode;
mod tape;

pub use grad_mode::{is_grad_enabled, no_grad};
pub(crate) use tape::record;
pub use tape::{Gradients, Tape};
