//! Networks built from `nn` modules. Today: a small CNN classifier used by the built-in demo
//! task and the model-level tests; the COIN networks (ResNet-18 classifier, encoder,
//! generator, discriminator) come with the training issue.

mod tiny_cnn;

pub use tiny_cnn::TinyCnn;
