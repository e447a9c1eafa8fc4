//! The whole run as a short sequence of phases, each returning what the next needs: open (the
//! run folder, a resumed checkpoint's state, the data) → classifier (trained, resumed or
//! borrowed, then the hand-over checkpoint) → counterfactual → test → `summary.json`. Every
//! checkpoint carries a typed [`RunState`]; a resume continues from the latest.

use super::averaged::{AveragedNets, AVERAGED_FILE};
use super::classifier_stage::ClassifierState;
use super::coin_stage::CoinState;
use super::data_setup::{prepare, Splits};
use super::memory::check_memory;
use super::preset::{CoinSelect, RunConfig};
use super::run_folder::{
    load_model_nets, selection_checkpoint, Outcome, Phase, RunDir, RunRecord, RunState,
    SelectionResult, Summary,
};
use super::stage::{loader, Stage};
use super::step::CoinStep;
use crate::attribution::RiseCfg;
use crate::data::DataSource;
use crate::eval::report::{baseline_row, Baseline};
use crate::eval::{
    evaluate_classifier, evaluate_coin, evaluate_coin_keeping_slices, ClassifierReport,
};
use crate::io::checkpoint::{latest_checkpoint, write_atomic};
use crate::io::figures::save_panels;
use crate::io::{load_groups, save_groups};
use crate::models::{Classifier, CoinNets, CoinNetsCfg};
use crate::{Device, Error, Result};
use std::path::PathBuf;
use std::time::Instant;

/// Which stages to run (`--stage all|classifier|counterfactual`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Stages {
    All,
    Classifier,
    Counterfactual,
}

/// Everything the `train` binary passes in.
pub struct RunOptions {
    pub cfg: RunConfig,
    pub data: DataSource,
    pub out: PathBuf,
    pub device: Device,
    pub resume: bool,
    pub force: bool,
    pub stages: Stages,
    /// The classifier for `--stage counterfactual`: a run folder or a safetensors file.
    pub classifier: Option<PathBuf>,
    /// Initial classifier weights (converted torchvision weights).
    pub classifier_init: Option<PathBuf>,
}

/// Runs the stages `o` asks for and writes `summary.json`.
pub fn run(o: &RunOptions) -> Result<Summary> {
    o.cfg.apply_precision();
    let mut s = Session::open(o)?;
    // The networks are built once: their initial state is the hand-over checkpoint.
    let (mut nets, mut f) = untrained_networks(&o.cfg, o.device)?;
    let mut step = CoinStep::new(&nets, o.cfg.coin.step.clone())?;
    let (classifier_val, coin_start) = s.classifier_phase(&mut f, &nets, &step)?;
    let mut out = Outcome {
        classifier_val,
        ..Default::default()
    };
    if o.stages == Stages::Classifier {
        out.classifier_test = Some(s.classifier_test(&f)?);
    } else {
        let (coin, averaged) = s.counterfactual_phase(&mut nets, &mut step, &f, coin_start)?;
        s.test_phase(averaged.as_ref().map_or(&nets, |a| &a.nets), &f, &mut out)?;
        out.coin = Some(coin);
    }
    out.seconds = std::mem::take(&mut s.seconds);
    s.finish(out)
}

/// One session of a run: its folder, what every checkpoint records, the data, the checkpoint
/// it resumed from, and the seconds spent so far.
struct Session<'a> {
    o: &'a RunOptions,
    run: RunDir,
    record: RunRecord,
    splits: Splits,
    resumed: Option<(PathBuf, RunState)>,
    t_all: Instant,
    seconds: super::run_folder::Seconds,
    /// The selections the counterfactual stage keeps, the one choosing the model first.
    selections: Vec<CoinSelect>,
}

impl<'a> Session<'a> {
    /// The run folder (new, forced or resumed), the resumed checkpoint's state (its
    /// configuration must be this one), the data and their preprocessing (a resumed run keeps
    /// its own), and a memory estimate.
    fn open(o: &'a RunOptions) -> Result<Session<'a>> {
        let t_all = Instant::now();
        let cfg = &o.cfg;
        let run = RunDir::open(&o.out, o.resume, o.force)?;
        let resumed = match o.resume {
            true => latest_checkpoint(&run.checkpoints())?,
            false => None,
        };
        let resumed = match resumed {
            Some(folder) => Some((folder.clone(), RunState::read(&folder)?)),
            None => None,
        };
        if let Some((_, s)) = &resumed {
            if &s.record.config != cfg {
                return Err(Error::Invalid("--resume: the configuration differs from the checkpoint's (resume with the same preset or config file)".into()));
            }
        }
        std::fs::write(run.path.join("config.toml"), cfg.to_toml())?;
        let data = o.data.absolute()?;
        let what = data.root.as_ref();
        let what = what.map_or("built-in phantom".to_string(), |r| r.display().to_string());
        println!("data: preparing ({what})");
        let saved_prep = resumed.as_ref().map(|(_, s)| &s.record.preprocessing);
        let splits = prepare(cfg, &data, saved_prep)?;
        let prep = splits.prep.clone();
        println!(
            "data: {} / {} / {} slices (train / validation / test) from {}, window [{:.0}, {:.0}] HU, {}²",
            splits.counts[0], splits.counts[1], splits.counts[2], prep.data_root.display(), prep.window_hu[0], prep.window_hu[1], cfg.data.size
        );
        match splits.val_patients.as_slice() {
            [] => println!(
                "data: no validation patients (data.val_fraction = 0): the test split validates"
            ),
            v => println!("data: validation patients ({}): {}", v.len(), v.join(", ")),
        }
        check_memory(cfg)?;
        let selections = selections(cfg, &splits);
        let record = RunRecord {
            config: cfg.clone(),
            preprocessing: prep,
            data,
        };
        Ok(Session {
            o,
            run,
            record,
            splits,
            resumed,
            t_all,
            seconds: Default::default(),
            selections,
        })
    }

    /// The resumed checkpoint's folder and state when it was taken in the stage `stage`.
    fn resumed_in(&self, stage: &str) -> Option<&PathBuf> {
        let (folder, s) = self.resumed.as_ref()?;
        (s.phase.stage() == stage).then_some(folder)
    }

    fn stage(&self, train: &std::sync::Arc<crate::data::dataset::SliceDataset>) -> Stage<'_> {
        Stage {
            record: &self.record,
            run: &self.run,
            device: self.o.device,
            train: train.clone(),
            val: self.splits.val.clone(),
            selections: self.selections.clone(),
        }
    }

    /// The classifier: borrowed (`--stage counterfactual`) or kept from an earlier session of
    /// this run, else trained (or resumed); then the hand-over checkpoint, from which a resume
    /// goes straight to the counterfactual stage. Returns the chosen classifier's validation
    /// report (when trained here) and the counterfactual stage's starting state.
    fn classifier_phase(
        &mut self,
        f: &mut Classifier,
        nets: &CoinNets,
        step: &CoinStep,
    ) -> Result<(Option<ClassifierReport>, CoinState)> {
        let done = self.resumed.is_some() && self.resumed_in("classifier").is_none();
        if self.o.stages == Stages::Counterfactual || done {
            self.load_classifier(f, done)?;
            return Ok((None, CoinState::default()));
        }
        let (report, earlier_s) = self.train_classifier(f)?;
        let spent = self.t_all.elapsed().as_secs_f64() + earlier_s;
        let coin_start = CoinState {
            budget_s: Some(coin_budget(&self.o.cfg, spent)),
            ..Default::default()
        };
        self.run.checkpoint(
            &self.run.checkpoints(),
            "counterfactual-00000000",
            &[(&nets.eg, Some(&step.opt_g)), (&nets.d, Some(&step.opt_d))],
            None,
            &self.record.state(Phase::Counterfactual(coin_start.clone())),
            self.o.cfg.coin.keep_checkpoints,
        )?;
        Ok((Some(report), coin_start))
    }

    /// Loads the run's own classifier (`done`) or `--classifier`'s, and keeps a copy in the run
    /// folder so `--resume` and `segment` find it.
    fn load_classifier(&self, f: &Classifier, done: bool) -> Result<()> {
        let path = match (&self.o.classifier, done) {
            (_, true) => self.run.path.join("classifier.safetensors"),
            (Some(p), _) if p.is_dir() => p.join("classifier.safetensors"),
            (Some(p), _) => p.clone(),
            (None, _) => {
                return Err(Error::Invalid(
                    "--stage counterfactual needs --classifier RUN_DIR|FILE".into(),
                ))
            }
        };
        load_groups(&path, &[&f.group])?;
        save_groups(&self.run.path.join("classifier.safetensors"), &[&f.group])?;
        println!("classifier: loaded {}", path.display());
        Ok(())
    }

    /// Trains the classifier (from `--classifier-init`, or resumed) and says which step it
    /// chose, warning when its validation accuracy is poor. Returns the chosen step's
    /// validation report and the seconds the stage took in earlier sessions.
    fn train_classifier(&mut self, f: &mut Classifier) -> Result<(ClassifierReport, f64)> {
        let cfg = &self.o.cfg;
        if let Some(init) = &self.o.classifier_init {
            load_groups(init, &[&f.group])?;
            println!("classifier: initialised from {}", init.display());
        }
        let stage = self.stage(&self.splits.train);
        let mut adam = stage.classifier_adam(f)?;
        let mut st = ClassifierState::default();
        if let Some(folder) = self.resumed_in("classifier") {
            let saved = RunDir::restore(folder, &mut [(&f.group, Some(&mut adam))])?;
            if let Phase::Classifier(s) = saved.phase {
                st = s;
            }
            println!("classifier: resuming at step {}", st.step);
        }
        let earlier_s = st.seconds;
        let t = Instant::now();
        let (st, best) = stage.run_classifier(f, &mut adam, st)?;
        self.seconds.classifier = Some(st.seconds);
        println!(
            "classifier: {} steps in {:.0} s; chose step {} ({}): {}",
            st.step,
            t.elapsed().as_secs_f64(),
            st.best_step,
            if st.stopped_at_accuracy {
                "the first to reach classifier.stop_at_accuracy"
            } else {
                "lowest validation loss"
            },
            best.headline()
        );
        if best.accuracy < cfg.classifier.warn_below_accuracy {
            eprintln!(
                "WARNING: the classifier's validation accuracy is {:.3}, below {:.2}: COIN learns from its verdicts, so \
                 counterfactuals and masks will be poor. Give the classifier stage more time (classifier.budget_s) first.",
                best.accuracy, cfg.classifier.warn_below_accuracy
            );
        }
        Ok((best, earlier_s))
    }

    /// The counterfactual stage from `start` (or the resumed checkpoint), within its budget;
    /// with `select = "best-val-iou"` the networks end at the best validation's weights.
    /// Returns the stage's state and the averaged networks (`coin.ema_decay > 0`), which are
    /// then the run's model.
    fn counterfactual_phase(
        &mut self,
        nets: &mut CoinNets,
        step: &mut CoinStep,
        f: &Classifier,
        start: CoinState,
    ) -> Result<(CoinState, Option<AveragedNets>)> {
        let mut st = start;
        let resumed = self.resumed_in("counterfactual").cloned();
        if let Some(folder) = &resumed {
            let groups = &mut [
                (&nets.eg, Some(&mut step.opt_g)),
                (&nets.d, Some(&mut step.opt_d)),
            ];
            if let Phase::Counterfactual(s) = RunDir::restore(folder, groups)?.phase {
                st = s;
            }
            if st.step > 0 {
                println!("counterfactual: resuming at step {}", st.step);
            }
        }
        let mut averaged = self.averaged(nets, resumed.as_deref(), st.step)?;
        if st.budget_s.is_none() {
            // A borrowed classifier: the seconds the lending run's counterfactual stage had, so
            // two methods on one classifier get the same time; else (a classifier file, or a
            // checkpoint from before budgets were recorded) what is left after this session's
            // data preparation.
            st.budget_s = Some(
                match self.o.classifier.as_deref().and_then(borrowed_stage) {
                    Some((seconds, steps)) => {
                        println!(
                        "counterfactual: {seconds:.0} s, as the classifier's run had ({steps} steps there)"
                    );
                        seconds
                    }
                    None => coin_budget(&self.o.cfg, self.t_all.elapsed().as_secs_f64()),
                },
            );
        }
        st.select = self.selections.first().copied();
        let stage = self.stage(&self.splits.train_plain);
        let st = stage.run_coin(nets, step, averaged.as_mut(), f, st)?;
        self.seconds.counterfactual = Some(st.seconds);
        let g_steps = st
            .step
            .div_ceil(self.o.cfg.coin.step.gen_update_freq.max(1));
        println!(
            "counterfactual: {} steps ({g_steps} generator updates, {}) in {:.0} s",
            st.step,
            self.o.cfg.coin.method.label(),
            st.seconds
        );
        if let Some((select, (score, chosen))) = st.select.and_then(|s| Some((s, st.best(s)?))) {
            let folder = selection_checkpoint(&self.run.path, select)?;
            RunDir::restore(&folder, &mut [(&nets.eg, None), (&nets.d, None)])?;
            if let Some(a) = &averaged {
                load_groups(&folder.join(AVERAGED_FILE), &[&a.nets.eg])?;
            }
            println!(
                "counterfactual: chose step {chosen} (selection {}: the highest validation score, {score:.4})",
                select.name()
            );
        }
        Ok((st, averaged))
    }

    /// The moving average of `nets`' E+G when the configuration keeps one: from the resumed
    /// checkpoint `folder` (taken at counterfactual step `step`), else a copy of `nets` at the
    /// stage's start.
    fn averaged(
        &self,
        nets: &CoinNets,
        folder: Option<&std::path::Path>,
        step: u64,
    ) -> Result<Option<AveragedNets>> {
        let cfg = &self.o.cfg;
        if cfg.coin.ema_decay <= 0.0 {
            return Ok(None);
        }
        let a = AveragedNets::new(nets, cfg.coin.ema_decay, self.o.device, cfg.seed)?;
        match folder.map(|f| f.join(AVERAGED_FILE)) {
            Some(file) if file.is_file() => load_groups(&file, &[&a.nets.eg])?,
            Some(file) if step > 0 => {
                return Err(Error::Format(format!(
                    "--resume: {} is missing (coin.ema_decay > 0 keeps the averaged networks in every checkpoint after the first step)",
                    file.display()
                )))
            }
            _ => {}
        }
        Ok(Some(a))
    }

    /// COIN on the test split, and the cheapest attribution baseline (LayerCAM: one forward
    /// and backward per 16 slices) on the same slices, scored as `evaluate` scores it.
    fn test_phase(&mut self, nets: &CoinNets, f: &Classifier, out: &mut Outcome) -> Result<()> {
        let cfg = &self.o.cfg;
        let t = Instant::now();
        let test = test_loader(&self.splits, cfg, self.o.device)?;
        let eval_cfg = cfg.eval_cfg(cfg.eval.samples);
        let (report, slices) = evaluate_coin_keeping_slices(nets, &f.net, &test, &eval_cfg)?;
        save_panels(
            &self.run.path.join("samples").join("test.png"),
            &report.panels,
        )?;
        self.seconds.evaluation = Some(t.elapsed().as_secs_f64());
        let layercam = baseline_row(
            Baseline::LayerCam,
            &f.net,
            &slices,
            cfg.eval.saliency_threshold,
            RiseCfg::default(),
            self.o.device,
            |_, _| {},
        )?;
        drop(slices);
        self.seconds.layercam = Some(layercam.seconds);
        println!(
            "test: {} IoU {:.4}{}, LayerCAM IoU {:.4} ({} abnormal slices)",
            cfg.coin.method.label(),
            report.iou,
            report.patients_note(),
            layercam.iou,
            report.abnormal_slices
        );
        out.selections = self.compare_selections(f, &test, &report)?;
        out.test = Some(report);
        out.layercam = Some(layercam);
        Ok(())
    }

    /// The chosen classifier on the test split (a classifier-only run: the full run's test
    /// phase scores it beside COIN).
    fn classifier_test(&self, f: &Classifier) -> Result<ClassifierReport> {
        let test = test_loader(&self.splits, &self.o.cfg, self.o.device)?;
        let r = evaluate_classifier(&f.net, &test)?;
        println!("test: classifier {} ({} slices)", r.headline(), r.n);
        Ok(r)
    }

    /// Every selection the run kept ([`CoinSelect::tracked`]: its own first, whose model the
    /// test phase just scored as `own`), each model scored on the test split, so a label-free
    /// selection can be set beside the one that reads validation masks.
    fn compare_selections(
        &self,
        f: &Classifier,
        test: &crate::data::loader::Loader,
        own: &crate::eval::CoinReport,
    ) -> Result<Vec<SelectionResult>> {
        let cfg = &self.o.cfg;
        let mut out = Vec::new();
        for (k, &select) in self.selections.iter().enumerate() {
            let Ok(folder) = selection_checkpoint(&self.run.path, select) else {
                continue;
            };
            let step = RunState::read(&folder)?.coin_step();
            let scored;
            let r = if k == 0 {
                own
            } else {
                let nets = CoinNets::new(&coin_nets_cfg(cfg), self.o.device, cfg.seed)?;
                load_model_nets(&folder, &nets)?;
                scored = evaluate_coin(&nets, &f.net, test, &cfg.eval_cfg(0))?;
                &scored
            };
            out.push(SelectionResult {
                select,
                step,
                test_iou: (r.masked_slices > 0).then_some(r.iou),
                test_dice: (r.masked_slices > 0).then_some(r.dice),
                validity: r.validity,
            });
        }
        Ok(out)
    }

    /// The curves, and `summary.json` from what the stages produced.
    fn finish(&self, mut out: Outcome) -> Result<Summary> {
        self.run.plot_curves()?;
        out.seconds.total_this_session = self.t_all.elapsed().as_secs_f64();
        let s = Summary::new(
            &self.o.cfg,
            self.o.device,
            &self.record.preprocessing,
            &self.splits.val_patients,
            out,
        );
        let text = serde_json::to_string_pretty(&s).map_err(|e| Error::Format(e.to_string()))?;
        write_atomic(&self.run.path.join("summary.json"), text.as_bytes())?;
        Ok(s)
    }
}

/// The selections the run keeps ([`CoinSelect::tracked`]), saying what the data leave out:
/// without tumour masks in the validation split the label-free selection chooses the model,
/// and without them in the test split IoU and Dice are not computed.
fn selections(cfg: &RunConfig, splits: &Splits) -> Vec<CoinSelect> {
    let masks = splits.val.has_tumour_masks();
    if !masks {
        println!(
            "data: the validation split has no tumour masks: no validation IoU, Dice or ceiling"
        );
        if cfg.coin.select == CoinSelect::BestValIou {
            println!("counterfactual: selection best-val-iou needs them, so the label-free selection chooses the model (coin.select = \"label-free\")");
        }
    }
    if !splits.test.has_tumour_masks() {
        println!("data: the test split has no tumour masks: no test IoU, Dice or ceiling (validity, flip rate and the classifier's scores are computed)");
    }
    cfg.coin.select.tracked(masks)
}

/// The counterfactual stage of the run a classifier is borrowed from (`--classifier RUN_DIR`):
/// its seconds and steps, from the run's `summary.json`; None for a weights file or a run
/// without a finished counterfactual stage.
fn borrowed_stage(classifier: &std::path::Path) -> Option<(f64, u64)> {
    let record = super::run_folder::StageRecord::of(classifier)?;
    let seconds = record.seconds.counterfactual?;
    (seconds > 0.0).then_some((seconds, record.coin_steps.unwrap_or(0)))
}

/// Seconds `total_budget_s` keeps for the test evaluation after the counterfactual stage.
const TEST_RESERVE_S: f64 = 20.0;

/// The counterfactual stage's budget: `coin.budget_s`, or with `total_budget_s` at most what
/// is left of it after `spent` seconds (data, classifier) and the test evaluation.
fn coin_budget(cfg: &RunConfig, spent: f64) -> f64 {
    let own = cfg.coin.budget_s;
    if cfg.total_budget_s <= 0.0 {
        return own;
    }
    let left = (cfg.total_budget_s - spent - TEST_RESERVE_S).max(30.0);
    if left < 60.0 {
        eprintln!(
            "WARNING: total_budget_s {} leaves the counterfactual stage {left:.0} s after {spent:.0} s of data and classifier",
            cfg.total_budget_s
        );
    }
    if own > 0.0 {
        own.min(left)
    } else {
        left
    }
}

/// The test split's loader: the batches, in the order, that the run's final evaluation used
/// (`evaluate` replays them to give the same numbers).
pub fn test_loader(
    splits: &super::data_setup::Splits,
    cfg: &RunConfig,
    device: Device,
) -> Result<crate::data::loader::Loader> {
    loader(splits.test.clone(), 32, 0, false, false, cfg, device)
}

/// The networks a configuration trains, freshly initialised from its seed: the COIN networks
/// and the classifier (what a run starts from, and what a checkpoint or bundle is loaded into).
pub fn untrained_networks(cfg: &RunConfig, device: Device) -> Result<(CoinNets, Classifier)> {
    Ok((
        CoinNets::new(&coin_nets_cfg(cfg), device, cfg.seed)?,
        Classifier::new(cfg.classifier.base, device, cfg.seed ^ 0xf)?,
    ))
}

/// The COIN networks a configuration trains.
pub fn coin_nets_cfg(cfg: &RunConfig) -> CoinNetsCfg {
    CoinNetsCfg {
        dataset: cfg.coin.dataset,
        width: cfg.coin.width,
        head: cfg.coin.head,
        method: cfg.coin.method,
        head_init_scale: cfg.coin.head_init_scale,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_budget_bounds_the_counterfactual_stage() {
        let mut cfg = RunConfig::preset("smoke").unwrap();
        cfg.coin.budget_s = 500.0;
        assert_eq!(coin_budget(&cfg, 100.0), 500.0, "no total: the stage's own");
        cfg.total_budget_s = 900.0;
        assert_eq!(
            coin_budget(&cfg, 100.0),
            500.0,
            "the stage's own is smaller"
        );
        assert_eq!(coin_budget(&cfg, 700.0), 900.0 - 700.0 - TEST_RESERVE_S);
        cfg.coin.budget_s = 0.0;
        assert_eq!(coin_budget(&cfg, 100.0), 900.0 - 100.0 - TEST_RESERVE_S);
        assert_eq!(
            coin_budget(&cfg, 2000.0),
            30.0,
            "overspent: a token stage, warned"
        );
    }
}
