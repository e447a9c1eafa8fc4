//! Training: the COIN losses and the two alternating steps (generator, discriminator) as
//! library functions, and the whole `train` pipeline (data, classifier stage, counterfactual
//! stage, evaluation, checkpoints, resume) driven by presets.

mod averaged;
mod bn_calibration;
pub(crate) mod classifier_stage;
pub(crate) mod coin_stage;
mod config;
pub mod data_setup;
mod losses;
mod memory;
pub mod pipeline;
pub mod preset;
mod run_folder;
mod stage;
mod step;

pub use averaged::{AveragedNets, AVERAGED_FILE};
pub use bn_calibration::recalibrate;
pub use coin_stage::region_masks;
pub use config::{AdvLoss, LossWeights, Rec, StepCfg};
pub use losses::{d_loss, g_adv_loss, DLosses, GLosses};
pub use memory::{check_memory, coin_step_bytes};
pub use pipeline::{coin_nets_cfg, run, test_loader, RunOptions, Stages};
pub use preset::{CoinSelect, RunConfig, PRESETS};
pub use run_folder::{
    bundle_card, checkpoint_arg, default_run_folder, export_bundle, Phase, RunRecord, RunState,
    Summary, TrainedModel, BUNDLE_FORMAT, RUN_STATE_FORMAT,
};
pub use step::{CoinStep, Pass, StepLosses};
