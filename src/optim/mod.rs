//! Optimizers over a parameter group's flat arena: one fused pass per step (on a GPU, one
//! launch per group). Each optimizer owns its moments; the group owns values and gradients.

mod adam;

pub use crate::ops::optim::AdamConfig;
pub use adam::Adam;
