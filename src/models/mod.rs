//! Networks built from `nn` modules and `ops` only: COIN's classifier (ResNet-18), encoder,
//! generator and discriminator with the authors' parameter names, the classifier's class bins
//! and the counterfactual they define (`posterior`), and the small demo CNN.

pub mod blocks;
mod coin_nets;
pub mod discriminator;
pub mod encoder;
pub mod generator;
mod posterior;
pub mod resnet;
mod tiny_cnn;
mod width;

pub use blocks::Upsample;
pub(crate) use coin_nets::authors_head_init_scale;
pub use coin_nets::{Classifier, CoinNets, CoinNetsCfg, Dataset};
pub use discriminator::Discriminator;
pub use encoder::Encoder;
pub use generator::{Generator, GeneratorCfg, OutputHead};
pub use posterior::{
    counterfactual, counterfactual_as_trained, normal_classes, posterior, Method, Posterior,
};
pub use resnet::{ClassifierOutput, ResNet18};
pub use tiny_cnn::TinyCnn;
pub use width::scaled;
