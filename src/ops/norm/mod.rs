//! Batch normalisation over NCHW (statistics per channel over N, H, W).
//!
//! Training mode normalises with the batch's biased variance and, when running statistics are
//! given, updates them in place outside the tape: `r ← (1 − m)·r + m·batch`, with the unbiased
//! variance for the running variance (PyTorch's convention). Evaluation mode normalises with the
//! running statistics. Affine γ/β are optional (CBN uses an affine-free BN and applies
//! per-sample γ/β itself).

mod cpu;
pub(crate) mod gpu;
mod reference;

use super::{
    any_tracked, gpu_or_reference, gpu_or_try_reference, path_of, require_float, require_same, Path,
};
use crate::autograd::record;
use crate::{Error, Result, Tensor};

/// Running statistics of a BatchNorm layer (non-trainable buffers, shape [C]).
#[derive(Clone, Debug)]
pub struct BatchNormState {
    pub running_mean: Tensor,
    pub running_var: Tensor,
    /// How many training batches updated the statistics (PyTorch's `num_batches_tracked`).
    pub num_batches_tracked: i64,
}

/// Per-channel statistics of one forward pass (mean and 1/√(var + eps)), saved for backward.
pub(crate) enum Stats {
    Host {
        mean: Vec<f64>,
        invstd: Vec<f64>,
    },
    /// On a GPU device (training, or evaluation with running statistics in device memory): the
    /// statistics stay there, so a step makes no host round trip for them.
    Device(gpu::DeviceStats),
}

impl Stats {
    /// The host statistics (mean, invstd). Device statistics only meet the host loops if a
    /// GPU op fell back to the reference, which none does: an error, not a silent read-back.
    pub(crate) fn host(&self) -> Result<(&[f64], &[f64])> {
        match self {
            Stats::Host { mean, invstd } => Ok((mean, invstd)),
            Stats::Device(_) => Err(Error::Device(
                "batch_norm: device statistics reached a host backend".into(),
            )),
        }
    }
}

/// The optional per-channel affine parameters of a batch norm, each [C].
#[derive(Clone, Copy, Default)]
pub struct Affine<'a> {
    pub gamma: Option<&'a Tensor>,
    pub beta: Option<&'a Tensor>,
}

impl<'a> Affine<'a> {
    /// No affine parameters (CBN's inner batch norm).
    pub const NONE: Affine<'static> = Affine {
        gamma: None,
        beta: None,
    };
    /// Both γ and β.
    pub fn new(gamma: &'a Tensor, beta: &'a Tensor) -> Affine<'a> {
        Affine {
            gamma: Some(gamma),
            beta: Some(beta),
        }
    }
}

/// Which statistics a batch norm normalises with.
pub enum BnMode<'a> {
    /// The batch's own (biased-variance) statistics; `state`, when given, gets its running
    /// statistics updated with `momentum` (PyTorch's convention, unbiased running variance).
    Train {
        state: Option<&'a mut BatchNormState>,
        momentum: f64,
    },
    /// The running statistics in `state`.
    Eval { state: &'a BatchNormState },
}

impl BnMode<'_> {
    /// Training statistics, no running-statistics update.
    pub fn train_stateless() -> BnMode<'static> {
        BnMode::Train {
            state: None,
            momentum: 0.1,
        }
    }
}

/// Batch normalisation of N×C×H×W `x` with optional affine parameters, in `mode`, with `eps`
/// added to the variance.
pub fn batch_norm(x: &Tensor, affine: Affine, mode: BnMode, eps: f64) -> Result<Tensor> {
    let Affine { gamma, beta } = affine;
    let (training, momentum, mut state, eval_state) = match mode {
        BnMode::Train { state, momentum } => (true, momentum, state, None),
        BnMode::Eval { state } => (false, 0.0, None, Some(state)),
    };
    require_float("batch_norm", x)?;
    let (n, c, h, w) = x.shape().dims4("batch_norm")?;
    for p in [gamma, beta].into_iter().flatten() {
        require_same("batch_norm", x, p)?;
        if p.dims() != [c] {
            return Err(Error::Shape(format!(
                "batch_norm: affine parameters must have shape [{c}] for input {}, got {}",
                x.shape(),
                p.shape()
            )));
        }
    }
    if eps.is_nan() || eps <= 0.0 {
        return Err(Error::Invalid(format!(
            "batch_norm: eps must be positive, got {eps}"
        )));
    }
    let m = n * h * w;
    let stats = if training {
        if m < 2 {
            return Err(Error::Shape(format!(
                "batch_norm: training needs more than one value per channel, input {}",
                x.shape()
            )));
        }
        let device_state = state
            .as_ref()
            .is_none_or(|s| s.running_mean.device().is_gpu());
        let on_device = (path_of(x) == Path::Gpu && device_state)
            .then(|| gpu::train_stats(x, c, eps, state.as_deref_mut(), momentum))
            .flatten();
        match on_device {
            Some(r) => Stats::Device(r?),
            None => {
                let (mean, var) = match path_of(x) {
                    Path::Cpu => cpu::moments(x, c),
                    Path::Gpu => gpu_or_reference(gpu::moments(x), || reference::moments(x, c))?,
                    Path::Reference => reference::moments(x, c),
                };
                let invstd = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
                if let Some(s) = state {
                    update_running(s, &mean, &var, momentum, m)?;
                }
                Stats::Host { mean, invstd }
            }
        }
    } else {
        let s = eval_state.expect("evaluation mode carries its statistics");
        check_running(s, c)?;
        // Running statistics in device memory stay there (no read per call on a GPU).
        let on_device = (path_of(x) == Path::Gpu)
            .then(|| gpu::eval_stats(s, eps))
            .flatten();
        match on_device {
            Some(r) => Stats::Device(r?),
            None => {
                let mean = s.running_mean.try_to_vec_f64()?;
                let var = s.running_var.try_to_vec_f64()?;
                let invstd = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
                Stats::Host { mean, invstd }
            }
        }
    };
    // γ/β as host values for the host paths; the GPU path reads them on the device.
    let on_gpu = path_of(x) == Path::Gpu;
    let host = |t: Option<&Tensor>| {
        if on_gpu {
            Ok(None)
        } else {
            t.map(|t| t.try_to_vec_f64()).transpose()
        }
    };
    let (gv, bv) = (host(gamma)?, host(beta)?);
    let gamma_t = gamma.map(|t| t.detach());
    let y = match path_of(x) {
        Path::Cpu => cpu::normalize(x, stats.host()?, gv.as_deref(), bv.as_deref()),
        Path::Gpu => gpu_or_try_reference(gpu::normalize(x, &stats, gamma, beta), || {
            let s = stats.host()?;
            Ok(reference::normalize(x, s, gv.as_deref(), bv.as_deref()))
        })?,
        Path::Reference => reference::normalize(x, stats.host()?, gv.as_deref(), bv.as_deref()),
    };
    let mut inputs = vec![x];
    inputs.extend(gamma);
    inputs.extend(beta);
    if !any_tracked(&inputs) {
        return Ok(y);
    }
    let xd = x.detach();
    let (has_g, has_b) = (gamma.is_some(), beta.is_some());
    record(
        "batch_norm",
        &inputs,
        y,
        Box::new(move |g, needs| {
            let (dx, dgamma, dbeta) = match path_of(&xd) {
                Path::Cpu => cpu::backward(&xd, g, stats.host()?, gv.as_deref(), training),
                Path::Gpu => gpu_or_try_reference(
                    gpu::backward(&xd, g, &stats, gamma_t.as_ref(), training),
                    || {
                        let s = stats.host()?;
                        Ok(reference::backward(&xd, g, s, gv.as_deref(), training))
                    },
                )?,
                Path::Reference => {
                    reference::backward(&xd, g, stats.host()?, gv.as_deref(), training)
                }
            };
            let mut out = vec![needs[0].then_some(dx)];
            let mut k = 1;
            if has_g {
                out.push(needs[k].then_some(dgamma));
                k += 1;
            }
            if has_b {
                out.push(needs[k].then_some(dbeta));
            }
            Ok(out)
        }),
    )
}

/// Errors unless the running statistics have `c` entries.
fn check_running(s: &BatchNormState, c: usize) -> Result<()> {
    if s.running_mean.numel() != c || s.running_var.numel() != c {
        return Err(Error::Shape(format!(
            "batch_norm: running statistics have {} entries, input has {c} channels",
            s.running_mean.numel()
        )));
    }
    Ok(())
}

fn update_running(
    s: &mut BatchNormState,
    mean: &[f64],
    var: &[f64],
    m: f64,
    count: usize,
) -> Result<()> {
    let c = mean.len();
    check_running(s, c)?;
    let unbias = count as f64 / (count as f64 - 1.0);
    let rm: Vec<f64> = s
        .running_mean
        .try_to_vec_f64()?
        .iter()
        .zip(mean)
        .map(|(r, b)| (1.0 - m) * r + m * b)
        .collect();
    let rv: Vec<f64> = s
        .running_var
        .try_to_vec_f64()?
        .iter()
        .zip(var)
        .map(|(r, b)| (1.0 - m) * r + m * b * unbias)
        .collect();
    s.running_mean =
        Tensor::from_f64_as(&rm, [c], s.running_mean.dtype(), s.running_mean.device())?;
    s.running_var = Tensor::from_f64_as(&rv, [c], s.running_var.dtype(), s.running_var.device())?;
    s.num_batches_tracked += 1;
    Ok(())
}
