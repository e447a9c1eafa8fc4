//! Initialisers, as PyTorch defines them (fan_in = in_channels · kernel area).

use crate::rng::Rng;

/// `nn.Conv2d` / `nn.Linear` default weight init: kaiming_uniform(a = √5) = U(±1/√fan_in).
pub fn default_weight(rng: &mut Rng, n: usize, fan_in: usize) -> Vec<f32> {
    let b = 1.0 / (fan_in as f64).sqrt();
    rng.fill(n, |r| r.uniform_range(-b, b))
}
/// `nn.Conv2d` / `nn.Linear` default bias init: U(±1/√fan_in).
pub fn default_bias(rng: &mut Rng, n: usize, fan_in: usize) -> Vec<f32> {
    default_weight(rng, n, fan_in)
}
/// `xavier_uniform_(gain)`: U(±gain·√(6/(fan_in + fan_out))).
pub fn xavier_uniform(
    rng: &mut Rng,
    n: usize,
    fan_in: usize,
    fan_out: usize,
    gain: f64,
) -> Vec<f32> {
    let b = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
    rng.fill(n, |r| r.uniform_range(-b, b))
}
/// `xavier_normal_(gain)`: N(0, gain·√(2/(fan_in + fan_out))).
pub fn xavier_normal(
    rng: &mut Rng,
    n: usize,
    fan_in: usize,
    fan_out: usize,
    gain: f64,
) -> Vec<f32> {
    let s = gain * (2.0 / (fan_in + fan_out) as f64).sqrt();
    rng.fill(n, |r| s * r.normal())
}
/// N(mean, std).
pub fn normal(rng: &mut Rng, n: usize, mean: f64, std: f64) -> Vec<f32> {
    rng.fill(n, |r| mean + std * r.normal())
}

/// Which initialisation a conv or linear layer's weight gets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// PyTorch's default.
    Default,
    XavierUniform(f64),
    XavierNormal(f64),
    Normal(f64, f64),
    /// `kaiming_normal_(mode='fan_out', nonlinearity='relu')`: N(0, √(2/fan_out)) — torchvision's
    /// ResNet convolutions.
    KaimingNormalFanOut,
}

impl Init {
    pub(crate) fn sample(self, rng: &mut Rng, n: usize, fan_in: usize, fan_out: usize) -> Vec<f32> {
        match self {
            Init::Default => default_weight(rng, n, fan_in),
            Init::XavierUniform(g) => xavier_uniform(rng, n, fan_in, fan_out, g),
            Init::XavierNormal(g) => xavier_normal(rng, n, fan_in, fan_out, g),
            Init::Normal(m, s) => normal(rng, n, m, s),
            Init::KaimingNormalFanOut => normal(rng, n, 0.0, (2.0 / fan_out as f64).sqrt()),
        }
    }
}
