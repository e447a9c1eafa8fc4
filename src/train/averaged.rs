//! The averaged networks: an exponential moving average of the encoder and generator, updated
//! after every generator update of the counterfactual stage (`coin.ema_decay`; 0: off).
//!
//! COIN's E+G Adam has β1 = 0, so its weights follow each batch's gradient and the validation
//! IoU of the live networks jumps between evaluations; "best validation" then picks noise. The
//! average is what the run validates, selects, tests, checkpoints as its model, and what
//! `segment` and `evaluate` load.
//!
//! - Parameters: `avg += (1 − d)·(live − avg)` (the `ema_f32` op on the whole arena), with the
//!   decay warmed up as `d = min(decay, (1 + n) / (10 + n))` after n updates, so the average
//!   does not keep the random initialisation for thousands of steps.
//! - Batch-norm running statistics (mean, variance) are averaged with the same weight: the
//!   live running statistics follow the live weights, so their average follows the averaged
//!   ones; `num_batches_tracked` is copied.
//! - Spectral-norm `u` vectors are the average's own: copied once at the start, then advanced
//!   by the average's own forward passes (its validations), as the live ones are by theirs.
//!
//! All of it (parameters, buffers, the update count) is in every checkpoint
//! (`averaged.safetensors` beside `weights.safetensors`; the count in the stage's state), so a
//! resumed run continues bit for bit.

use crate::models::CoinNets;
use crate::nn::load_named;
use crate::{no_grad, ops, Device, Result};

/// The file of a checkpoint folder that holds the averaged E+G, under the authors' names.
pub const AVERAGED_FILE: &str = "averaged.safetensors";

/// Updates before the decay reaches its configured value (the warm-up's constant).
const WARMUP: f64 = 10.0;

/// A moving average of a run's E+G.
pub struct AveragedNets {
    pub nets: CoinNets,
    decay: f64,
}

impl AveragedNets {
    /// A copy of `live`'s E+G (parameters and every buffer) that will average with `decay`.
    pub fn new(live: &CoinNets, decay: f64, device: Device, seed: u64) -> Result<AveragedNets> {
        let nets = CoinNets::new(&live.cfg, device, seed)?;
        load_named(&[&nets.eg], live.eg.named_tensors())?;
        Ok(AveragedNets { nets, decay })
    }

    /// The decay of update number `n` (0-based): warmed up, at most the configured one.
    pub fn decay_at(&self, n: u64) -> f64 {
        self.decay.min((1.0 + n as f64) / (WARMUP + n as f64))
    }

    /// The `n`-th update (0-based) towards `live`'s E+G.
    pub fn update(&mut self, live: &CoinNets, n: u64) -> Result<()> {
        let w = 1.0 - self.decay_at(n);
        self.nets.eg.lerp_towards(&live.eg, w)?;
        no_grad(|| {
            for (avg, now) in self.nets.eg.buffers().iter().zip(live.eg.buffers()) {
                let name = avg.name();
                if name.ends_with("running_mean") || name.ends_with("running_var") {
                    let (a, l) = (avg.get(), now.get());
                    avg.set(ops::add(&a, &ops::mul_scalar(&ops::sub(&l, &a)?, w)?)?)?;
                } else if name.ends_with("num_batches_tracked") {
                    avg.set(now.get())?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::CoinNetsCfg;

    fn nets(seed: u64) -> CoinNets {
        let cfg = CoinNetsCfg {
            width: 0.125,
            ..Default::default()
        };
        CoinNets::new(&cfg, Device::Cpu, seed).unwrap()
    }

    #[test]
    fn the_average_moves_parameters_and_statistics_but_not_its_own_u() {
        let (live, other) = (nets(1), nets(2));
        let mut avg = AveragedNets::new(&live, 0.99, Device::Cpu, 3).unwrap();
        assert_eq!(avg.nets.eg.values(), live.eg.values(), "starts as a copy");
        // Make the live networks differ: load another initialisation into them.
        load_named(&[&live.eg], other.eg.named_tensors()).unwrap();
        // Copies: parameter tensors are views of the arena the update writes.
        let before: Vec<(String, Vec<f64>)> = avg
            .nets
            .eg
            .named_tensors()
            .into_iter()
            .map(|(n, t)| (n, t.to_vec_f64()))
            .collect();
        avg.update(&live, 0).unwrap();
        let w = 1.0 - 0.1; // the first update's warmed-up decay is 1/10
        assert!((avg.decay_at(0) - 0.1).abs() < 1e-12);
        assert!((avg.decay_at(10_000) - 0.99).abs() < 1e-12);
        let now: std::collections::BTreeMap<_, _> =
            avg.nets.eg.named_tensors().into_iter().collect();
        let target: std::collections::BTreeMap<_, _> =
            live.eg.named_tensors().into_iter().collect();
        let mut seen = [0; 3];
        for (name, b) in before {
            let (a, l, n) = (b, target[&name].to_vec_f64(), now[&name].to_vec_f64());
            if name.ends_with(".u") {
                assert_eq!(n, a, "{name}: the average's own u is not averaged");
                seen[0] += 1;
            } else if name.ends_with("num_batches_tracked") {
                assert_eq!(n, l, "{name} is copied");
                seen[1] += 1;
            } else {
                for ((a, l), n) in a.iter().zip(&l).zip(&n) {
                    let want = a + w * (l - a);
                    assert!(
                        (n - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "{name}: {n} vs {want}"
                    );
                }
                seen[2] += 1;
            }
        }
        assert!(
            seen.iter().all(|&k| k > 0),
            "u, counters and values all checked: {seen:?}"
        );
    }
}
