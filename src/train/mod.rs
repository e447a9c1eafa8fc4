//! Training: the COIN losses and the two alternating steps (generator, discriminator) as
//! library functions over the networks of [`crate::models`].

mod config;
mod losses;
mod posterior;
mod step;

pub use config::{AdvLoss, LossWeights, StepCfg};
pub use losses::{d_loss, g_adv_loss, DLosses, GLosses};
pub use posterior::{posterior, Posterior};
pub use step::{counterfactual, CoinStep, StepLosses};
