//! The counterfactual stage: COIN's alternating steps ([`CoinStep`]) against the frozen
//! classifier; validation IoU and sample panels every `eval_every` steps, a checkpoint every
//! `checkpoint_every`; the stage ends at the first step past its budget or step limit, with a
//! validation and a checkpoint. With `ema_decay > 0` the moving average of E+G
//! ([`AveragedNets`]) follows every generator update and is what is validated and saved as the
//! model. The final model is the last checkpoint, or with `select = "best-val-iou"` the one at
//! the validation with the highest IoU, saved in the run's `best/` whenever it improves.
//! With `keep_validations` every validation's networks also stay in `coin-validations/`, so
//! selection rules can be replayed over one run (`scripts/coin_replay.py`).

use super::averaged::AveragedNets;
use super::config::Rec;
use super::preset::CoinSelect;
use super::run_folder::Phase;
use super::stage::{at_step, stage_loaders, LoaderSpec, Stage};
use super::step::CoinStep;
use super::step::StepLosses;
use crate::data::loader::{Batch, Loader};
use crate::eval::evaluate_coin;
use crate::io::figures::save_panels;
use crate::io::progress::Progress;
use crate::models::{Classifier, CoinNets};
use crate::{Error, Result, Tensor};
use serde_json::json;
use std::time::Instant;

/// The run's folder of every validation's networks (`keep_validations`).
const VALIDATIONS_DIR: &str = "coin-validations";

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct CoinState {
    pub step: u64,
    pub seconds: f64,
    /// The best validation IoU so far and its step (`select = "best-val-iou"`).
    #[serde(default)]
    pub best_iou: Option<f64>,
    #[serde(default)]
    pub best_step: u64,
    /// The best label-free score so far and its step (`select = "label-free"`).
    #[serde(default)]
    pub best_label_free: Option<f64>,
    #[serde(default)]
    pub best_label_free_step: u64,
    /// The selection that chooses the run's model (the configured one, or label-free when the
    /// validation split has no tumour masks); None: the last step's.
    #[serde(default)]
    pub select: Option<CoinSelect>,
    /// The stage's wall-clock budget, fixed when it starts (`coin.budget_s`, shortened to what
    /// `total_budget_s` leaves after the data and the classifier); kept for a resumed run.
    #[serde(default)]
    pub budget_s: Option<f64>,
    /// Updates of the moving average so far (`coin.ema_decay > 0`; its warm-up reads it).
    #[serde(default)]
    pub averaged_updates: u64,
}

impl CoinState {
    /// The best validation score of selection `select` so far and its step.
    pub fn best(&self, select: CoinSelect) -> Option<(f64, u64)> {
        match select {
            CoinSelect::Last => None,
            CoinSelect::BestValIou => self.best_iou.map(|v| (v, self.best_step)),
            CoinSelect::LabelFree => self.best_label_free.map(|v| (v, self.best_label_free_step)),
        }
    }
    fn set_best(&mut self, select: CoinSelect, score: f64) {
        match select {
            CoinSelect::Last => {}
            CoinSelect::BestValIou => (self.best_iou, self.best_step) = (Some(score), self.step),
            CoinSelect::LabelFree => {
                (self.best_label_free, self.best_label_free_step) = (Some(score), self.step)
            }
        }
    }
}

/// The batch's background and kidney masks as an N×2×H×W 0/1 tensor on the images' device
/// (CARL's regions); an error naming the key when a slice has no organ masks.
pub fn region_masks(b: &Batch) -> Result<Tensor> {
    let (n, _, h, w) = b.images.shape().dims4("region masks")?;
    let mut data = Vec::with_capacity(n * 2 * h * w);
    for i in 0..n {
        let regions = b.masks.get(i).and_then(|m| m.get(..2));
        let Some(regions) = regions.filter(|r| r.iter().all(|m| m.len() == h * w)) else {
            return Err(Error::Invalid(format!(
                "[coin.step] rec = \"carl\" needs each slice's background and kidney masks, and slice {} of the batch has none; use rec = \"l1\" for data without organ label maps",
                b.indices.get(i).copied().unwrap_or(i)
            )));
        };
        data.extend(regions.iter().flatten().map(|&v| (v > 0) as u8 as f32));
    }
    Tensor::from_f32(data, [n, 2, h, w], b.images.device())
}

impl Stage<'_> {
    /// Trains `nets` (and their average, when kept) from `state` on, to the stage's end.
    pub fn run_coin(
        &self,
        nets: &mut CoinNets,
        step: &mut CoinStep,
        mut averaged: Option<&mut AveragedNets>,
        f: &Classifier,
        mut state: CoinState,
    ) -> Result<CoinState> {
        let c = &self.cfg().coin;
        let spec = LoaderSpec {
            batch: c.batch,
            salt: 0xc014,
            balanced: false,
            what: "COIN",
        };
        let (train, val, per_epoch) =
            stage_loaders(self.cfg(), [&self.train, &self.val], spec, self.device)?;
        let t0 = Instant::now() - std::time::Duration::from_secs_f64(state.seconds);
        let budget_s = state.budget_s.unwrap_or(c.budget_s);
        let bar = Progress::new("counterfactual", c.max_steps, budget_s, state.step);
        step.step = state.step;
        'outer: loop {
            let epoch = state.step / per_epoch;
            for batch in train.epoch(epoch).skip((state.step % per_epoch) as usize) {
                let b = batch?;
                let masks = match step.cfg.rec {
                    Rec::Carl => Some(region_masks(&b)?),
                    Rec::L1 => None,
                };
                let l = step
                    .train_step_with_masks(nets, &f.net, &b.images, masks.as_ref())
                    .map_err(|e| at_step(e, "counterfactual", state.step))?;
                if let (Some(avg), Some(_)) = (averaged.as_deref_mut(), &l.generator) {
                    avg.update(nets, state.averaged_updates)?;
                    state.averaged_updates += 1;
                }
                state.step += 1;
                state.seconds = t0.elapsed().as_secs_f64();
                self.log_step(&state, &l, &bar)?;
                let done_steps = c.max_steps > 0 && state.step >= c.max_steps;
                let done_time = budget_s > 0.0 && state.seconds >= budget_s;
                // The end (a step limit or the budget) is always validated and checkpointed, so
                // a budget is kept to within one step and one evaluation; every validation is
                // also a checkpoint, so a resumed run knows the best validation IoU so far.
                let end = done_steps || done_time;
                let eval_due = state.step.is_multiple_of(c.eval_every) || end;
                let ckpt_due = state.step.is_multiple_of(c.checkpoint_every) || eval_due;
                let averaged = averaged.as_deref();
                if eval_due {
                    self.validate(nets, averaged, f, &val, &mut state, &bar)?;
                }
                if ckpt_due {
                    let name = format!("counterfactual-{:08}", state.step);
                    self.checkpoint(
                        &self.run.checkpoints(),
                        &name,
                        &[(&nets.eg, Some(&step.opt_g)), (&nets.d, Some(&step.opt_d))],
                        averaged,
                        Phase::Counterfactual(state.clone()),
                        c.keep_checkpoints,
                    )?;
                    self.run.log(json!({"stage": "counterfactual", "step": state.step, "event": "checkpoint", "name": name}))?;
                    if end {
                        break 'outer;
                    }
                }
            }
        }
        bar.finish();
        Ok(state)
    }
    /// One step's line in the log and on the progress bar.
    fn log_step(&self, state: &CoinState, l: &StepLosses, bar: &Progress) -> Result<()> {
        let mut line = json!({"stage": "counterfactual", "step": state.step, "t": state.seconds});
        let mut msg = String::new();
        for (n, v) in l.generator.iter().flatten().chain(&l.discriminator) {
            line[*n] = json!(v);
            if matches!(*n, "g_loss" | "d_loss") {
                msg += &format!("{n} {v:.3} ");
            }
        }
        self.run.log(line)?;
        bar.step(state.step, state.seconds, &msg);
        Ok(())
    }

    /// Validation IoU and panels at this step (of the average when kept); for each selection
    /// the run keeps ([`CoinSelect::tracked`]) a better score than any before is kept in its
    /// folder (`best/`, `best-label-free/`).
    fn validate(
        &self,
        nets: &CoinNets,
        averaged: Option<&AveragedNets>,
        f: &Classifier,
        val: &Loader,
        state: &mut CoinState,
        bar: &Progress,
    ) -> Result<()> {
        let r = evaluate_coin(
            averaged.map_or(nets, |a| &a.nets),
            &f.net,
            val,
            &self.cfg().eval_cfg(self.cfg().eval.samples),
        )?;
        save_panels(
            &self
                .run
                .path
                .join("samples")
                .join(format!("val-step-{:08}.png", state.step)),
            &r.panels,
        )?;
        self.run.log(json!({"stage": "counterfactual", "step": state.step, "event": "validation", "t": state.seconds,
            "val_iou": (r.masked_slices > 0).then_some(r.iou), "val_iou_patients_90": r.iou_patients_90, "val_dice": (r.masked_slices > 0).then_some(r.dice), "val_validity": r.validity, "val_ceiling_iou": r.ceiling_iou,
            "val_changed_pixels_normal": r.changed_pixels_normal,
            "val_changed_pixels_abnormal": r.changed_pixels_abnormal, "val_flip_abnormal": r.flip_rate_abnormal,
            "val_label_free": r.label_free_score}))?;
        bar.note(&format!(
            "step {}: validation IoU {:.4}{} (ceiling {}), validity {}",
            state.step,
            r.iou,
            r.patients_note(),
            r.ceiling_iou.map_or("n/a".into(), |v| format!("{v:.3}")),
            r.validity.map_or("n/a".into(), |v| format!("{v:.3}"))
        ));
        for &select in &self.selections {
            let score = match select {
                CoinSelect::LabelFree => r.label_free_score,
                _ => r.iou,
            };
            if state.best(select).is_some_and(|(b, _)| score <= b) {
                continue;
            }
            state.set_best(select, score);
            let folder = select.folder().expect("a tracked selection keeps a folder");
            self.keep_model(folder, nets, averaged, state, 1)?;
        }
        if self.cfg().coin.keep_validations {
            self.keep_model(VALIDATIONS_DIR, nets, averaged, state, usize::MAX)?;
        }
        Ok(())
    }

    /// The networks at this step (weights only, with the average when kept) in the run's
    /// `folder`, keeping its newest `keep`.
    fn keep_model(
        &self,
        folder: &str,
        nets: &CoinNets,
        averaged: Option<&AveragedNets>,
        state: &CoinState,
        keep: usize,
    ) -> Result<()> {
        self.checkpoint(
            &self.run.path.join(folder),
            &format!("counterfactual-{:08}", state.step),
            &[(&nets.eg, None), (&nets.d, None)],
            averaged,
            Phase::Counterfactual(state.clone()),
            keep,
        )
    }
}
