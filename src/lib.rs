//! coin — weakly supervised tumour segmentation in CT by counterfactual inpainting (COIN),
//! built on a small tensor engine of its own.
//!
//! Layout (see README.md):
//! - [`tensor`]: `Tensor`, `Shape`, `DType`, `Device`, storage, the host buffer recycler.
//! - [`autograd`]: the explicit tape, `no_grad`, backward restricted to chosen tensors.
//! - [`ops`]: every op, one folder per family: `mod.rs` (API, checks, dispatch, backward
//!   rule), `reference.rs` (naive, f64 accumulation: the oracle), `cpu.rs` (fast f32) and
//!   `gpu.rs` (launchers of `kernels/<family>.cu`); `ops::optim` is the optimizer's update.
//! - [`gpu`]: the device runtime: emulated and CUDA devices, device buffers, checked launches,
//!   the generated kernel table.
//! - [`nn`]: modules (Conv2d, BatchNorm2d, ConditionalBatchNorm2d, spectral norm, Linear,
//!   Embedding) with config structs and named scopes, parameter groups with flat arenas and
//!   registered buffers, initialisers.
//! - [`optim`]: Adam and AdamW: state and schedule over a parameter group.
//! - [`data`]: NIfTI volumes, layouts, windowing, slicing, the phantom, synthetic tumours, the
//!   slice cache, the slice dataset and the loader.
//! - [`models`]: COIN's networks (ResNet-18 classifier, encoder, generator, discriminator) with
//!   the authors' parameter names, the class bins and the counterfactual, and a small CNN for
//!   the model-level tests.
//! - [`train`]: COIN's losses and steps, the `train` pipeline (presets, stages, resume) and the
//!   run folder it writes and reads (typed run state, summary, a run opened for inference).
//! - [`eval`]: the paper's segmentation rule, the metrics, whole volumes and `evaluate`'s
//!   report, from networks and preprocessing (never from a run).
//! - [`io`]: safetensors files, strict loading by name, checkpoint folders, figures.
//! - [`demo`]: a tiny blob-detection task for the model-level tests.
//! - [`attribution`]: the baselines (RISE, LayerCAM, ScoreCAM).
//! - [`cli`]: what every binary shares: `--device` (parsed once, probed first), exit codes.
//! - [`host`]: facts about the machine for reports (CPU model, SIMD path, threads, commit).
//! - [`rng`]: a small counter-based random generator (reproducible across runs and threads).
//! - [`error`]: the crate's `Error` and `Result`.

pub mod attribution;
pub mod autograd;
pub mod cli;
pub mod data;
pub mod demo;
pub mod error;
pub mod eval;
pub mod gpu;
pub mod host;
pub mod io;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod rng;
pub mod tensor;
pub mod train;

pub use autograd::{no_grad, Gradients, Tape};
pub use error::{Error, Result};
pub use tensor::{DType, Device, Shape, Tensor};

/// Sizes the worker pool the tensor ops run on (`--threads`; `None`: all cores). Call it once,
/// before any op runs.
pub fn set_threads(n: Option<usize>) -> Result<()> {
    if let Some(t) = n {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t.max(1))
            .build_global()
            .map_err(|e| Error::Invalid(format!("--threads {t}: {e}")))?;
    }
    Ok(())
}
