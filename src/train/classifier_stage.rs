//! The classifier stage: ResNet-18 on image-level labels with BCE-with-logits and Adam, the
//! paper's augmentations, optional class-balanced sampling; the validation loss (BCE) every
//! `eval_every` steps picks the best weights (saved as `classifier.safetensors`; the loss
//! keeps discriminating after accuracy saturates on a small validation split), each
//! evaluation is also a checkpoint; a wall-clock budget ends the stage at the next evaluation.
//! With `stop_at_accuracy` the first evaluation that reaches that validation accuracy — on
//! `stop_consecutive` evaluations in a row, so one lucky evaluation does not end it — ends the
//! stage and is the one chosen: a classifier trained on to extreme confidence puts its
//! abnormal logits past COIN's KL clamp (p > 1 − 1e-5), where the term has no gradient.
//! With `calibrate_bn_batches` each validation first recomputes batch norm's running statistics
//! under the current weights from a few fixed training batches (`bn_calibration.rs`), so the
//! evaluated and chosen checkpoint's statistics match its weights.
//! With `keep_validations` every validation's weights also stay in `classifier-validations/`,
//! so stopping rules can be replayed over one run (`scripts/classifier-replay.sh`).

use super::bn_calibration::CalibrationBatches;
use super::preset::ClassifierCfg;
use super::run_folder::Phase;
use super::stage::{at_step, stage_loaders, LoaderSpec, Stage};
use crate::eval::{evaluate_classifier, ClassifierReport};
use crate::io::progress::Progress;
use crate::io::{load_groups, save_groups};
use crate::models::Classifier;
use crate::nn::Ctx;
use crate::optim::{Adam, AdamConfig};
use crate::{ops, Result, Tape};
use serde_json::json;
use std::time::Instant;

/// The run's folder of every validation's classifier (`keep_validations`).
const VALIDATIONS_DIR: &str = "classifier-validations";

/// Where a (possibly resumed) classifier stage stands.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ClassifierState {
    pub step: u64,
    /// The lowest validation BCE so far, and that checkpoint's accuracy.
    pub best_loss: f64,
    pub best_accuracy: f64,
    pub best_step: u64,
    pub seconds: f64,
    /// The stage ended at an evaluation that reached `stop_at_accuracy` (and chose it).
    #[serde(default)]
    pub stopped_at_accuracy: bool,
    /// Consecutive evaluations so far that reached `stop_at_accuracy`.
    #[serde(default)]
    pub reached_in_a_row: u64,
}

impl ClassifierState {
    /// Records the validation `r` taken at the current step. Returns whether it ends the stage
    /// (`stop_at_accuracy` reached on `stop_consecutive` evaluations in a row) and whether it
    /// is the new choice (it ends the stage, or has the lowest validation loss so far).
    fn record(&mut self, r: &ClassifierReport, c: &ClassifierCfg) -> (bool, bool) {
        let reached = c.stop_at_accuracy > 0.0 && r.accuracy >= c.stop_at_accuracy;
        self.reached_in_a_row = if reached {
            self.reached_in_a_row + 1
        } else {
            0
        };
        let good_enough = reached && self.reached_in_a_row >= c.stop_consecutive.max(1);
        let chosen = good_enough || r.loss < self.best_loss || self.best_step == 0;
        if chosen {
            self.best_loss = r.loss;
            self.best_accuracy = r.accuracy;
            self.best_step = self.step;
        }
        (good_enough, chosen)
    }
}

impl Stage<'_> {
    pub fn classifier_adam(&self, f: &Classifier) -> Result<Adam> {
        let c = &self.cfg().classifier;
        Adam::new(
            &f.group,
            AdamConfig {
                lr: c.lr,
                weight_decay: c.weight_decay,
                ..Default::default()
            },
        )
    }

    /// Trains `f` from `state` on, leaving the best validation weights in it.
    pub fn run_classifier(
        &self,
        f: &mut Classifier,
        adam: &mut Adam,
        mut state: ClassifierState,
    ) -> Result<(ClassifierState, ClassifierReport)> {
        let c = &self.cfg().classifier;
        let spec = LoaderSpec {
            batch: c.batch,
            salt: 0xc1a5,
            balanced: c.balanced,
            what: "classifier",
        };
        let (train, val, per_epoch) =
            stage_loaders(self.cfg(), [&self.train, &self.val], spec, self.device)?;
        let best_path = self.run.path.join("classifier.safetensors");
        let t0 = Instant::now() - std::time::Duration::from_secs_f64(state.seconds);
        let bar = Progress::new("classifier", c.max_steps, c.budget_s, state.step);
        let calibration = CalibrationBatches::draw(&train, c.calibrate_bn_batches)?;
        'outer: loop {
            let epoch = state.step / per_epoch;
            for batch in train.epoch(epoch).skip((state.step % per_epoch) as usize) {
                let b = batch?;
                let tape = Tape::new();
                let logits = f.net.forward(&b.images, &Ctx::train(&tape))?;
                let loss = ops::loss::bce_with_logits(&logits, &b.labels)?;
                let v = loss
                    .finite_scalar("classifier BCE loss")
                    .map_err(|e| at_step(e, "classifier", state.step))?;
                adam.minimize(&mut f.group, &tape, &loss)
                    .map_err(|e| at_step(e, "classifier", state.step))?;
                state.step += 1;
                state.seconds = t0.elapsed().as_secs_f64();
                self.run.log(json!({"stage": "classifier", "step": state.step, "loss": v, "t": state.seconds}))?;
                bar.step(state.step, state.seconds, &format!("BCE {v:.4}"));
                let done_steps = c.max_steps > 0 && state.step >= c.max_steps;
                let done_time = c.budget_s > 0.0 && state.seconds >= c.budget_s;
                if state.step.is_multiple_of(c.eval_every) || done_steps {
                    calibration.recalibrate(&f.net)?;
                    let r = evaluate_classifier(&f.net, &val)?;
                    let (good_enough, chosen) = state.record(&r, c);
                    if chosen {
                        save_groups(&best_path, &[&f.group])?;
                    }
                    self.run.log(json!({"stage": "classifier", "step": state.step, "event": "validation", "val": r, "t": state.seconds}))?;
                    bar.note(&format!(
                        "step {}: validation loss {:.4}, accuracy {:.3} (best: loss {:.4} at {})",
                        state.step, r.loss, r.accuracy, state.best_loss, state.best_step
                    ));
                    self.checkpoint_validation(f, adam, &state)?;
                    if done_steps || done_time || good_enough {
                        state.stopped_at_accuracy = good_enough;
                        break 'outer;
                    }
                }
            }
        }
        bar.finish();
        load_groups(&best_path, &[&f.group])?;
        let best = evaluate_classifier(&f.net, &val)?;
        Ok((state, best))
    }

    /// The checkpoint each validation is (the newest two kept), and with `keep_validations`
    /// a copy of its weights and state that is never pruned.
    fn checkpoint_validation(
        &self,
        f: &Classifier,
        adam: &Adam,
        state: &ClassifierState,
    ) -> Result<()> {
        let name = format!("classifier-{:08}", state.step);
        self.checkpoint(
            &self.run.checkpoints(),
            &name,
            &[(&f.group, Some(adam))],
            None,
            Phase::Classifier(state.clone()),
            2,
        )?;
        self.run.log(
            json!({"stage": "classifier", "step": state.step, "event": "checkpoint", "name": name}),
        )?;
        if self.cfg().classifier.keep_validations {
            self.checkpoint(
                &self.run.path.join(VALIDATIONS_DIR),
                &name,
                &[(&f.group, None)],
                None,
                Phase::Classifier(state.clone()),
                usize::MAX,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(accuracy: f64, loss: f64) -> ClassifierReport {
        ClassifierReport {
            accuracy,
            loss,
            ..Default::default()
        }
    }

    #[test]
    fn one_lucky_evaluation_does_not_end_the_stage() {
        let mut c = crate::train::RunConfig::preset("cpu-default")
            .unwrap()
            .classifier;
        c.stop_at_accuracy = 0.98;
        c.stop_consecutive = 2;
        let mut s = ClassifierState::default();
        let at = |s: &mut ClassifierState, step, acc, loss| {
            s.step = step;
            s.record(&report(acc, loss), &c)
        };
        assert_eq!(
            at(&mut s, 40, 0.90, 0.3),
            (false, true),
            "the first is chosen"
        );
        assert_eq!(
            at(&mut s, 80, 0.99, 0.1),
            (false, true),
            "reached once: goes on"
        );
        assert_eq!(
            at(&mut s, 120, 0.45, 5.0),
            (false, false),
            "the streak breaks"
        );
        assert_eq!(
            at(&mut s, 160, 0.99, 0.2),
            (false, false),
            "reached once again"
        );
        assert_eq!(
            at(&mut s, 200, 0.985, 0.15),
            (true, true),
            "twice in a row: stop, choose it"
        );
        assert_eq!((s.best_step, s.best_accuracy), (200, 0.985));
    }
}
