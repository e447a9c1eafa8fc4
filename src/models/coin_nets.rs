//! COIN's trainable networks and the frozen classifier, each set in its own parameter group
//! with the authors' `state_dict` prefixes: `enc.*` and `gen.*` (one optimizer, E+G),
//! `disc.*` (D), `classifier_f.*` (the classifier, trained in its own stage).

use super::blocks::Upsample;
use super::discriminator::{Discriminator, DISCRIMINATOR_SYNTHETIC, DISCRIMINATOR_TUH};
use super::encoder::Encoder;
use super::generator::{Generator, GeneratorCfg, OutputHead};
use super::posterior::Method;
use super::resnet::ResNet18;
use crate::nn::ParamGroup;
use crate::rng::Rng;
use crate::{Device, Result};

/// Which of the paper's two configurations the networks follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// TotalSegmentator with synthetic tumours: SN shortcuts in E and G, nearest upsampling,
    /// a 6-block discriminator.
    Synthetic,
    /// TUH kidney tumours: plain shortcuts, bilinear (`align_corners=True`) upsampling, 5 blocks.
    Tuh,
}

/// The networks' shape.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CoinNetsCfg {
    pub dataset: Dataset,
    /// Scales the five encoder blocks and all of G's and D's channels (the encoder's first
    /// block stays at 64).
    pub width: f64,
    /// Generator blocks (1…4) fed an encoder skip.
    pub skips: Vec<usize>,
    pub head: OutputHead,
    pub num_classes: usize,
    /// What the generator's condition means (COIN: heal; Singla et al.: the other class).
    #[serde(default)]
    pub method: Method,
    /// Multiplies the generator's last convolution's initial values (1: the authors' init).
    #[serde(default = "authors_head_init_scale")]
    pub head_init_scale: f64,
}

/// The authors' init of the generator's last convolution (no scaling): the serde default.
pub(crate) fn authors_head_init_scale() -> f64 {
    1.0
}

impl Default for CoinNetsCfg {
    fn default() -> Self {
        CoinNetsCfg {
            dataset: Dataset::Synthetic,
            width: 1.0,
            skips: vec![1, 2, 3, 4],
            head: OutputHead::SkipAddTanh,
            num_classes: 2,
            method: Method::Coin,
            head_init_scale: authors_head_init_scale(),
        }
    }
}

/// The encoder, generator and discriminator, in two groups (E+G and D).
pub struct CoinNets {
    pub eg: ParamGroup,
    pub d: ParamGroup,
    pub enc: Encoder,
    pub gen: Generator,
    pub disc: Discriminator,
    pub cfg: CoinNetsCfg,
}

impl CoinNets {
    pub fn new(cfg: &CoinNetsCfg, device: Device, seed: u64) -> Result<CoinNets> {
        let mut rng = Rng::new(seed);
        let synthetic = cfg.dataset == Dataset::Synthetic;
        let mut eg = ParamGroup::new("E+G", device);
        let enc = Encoder::new(&mut eg.scope("enc"), 1, cfg.width, synthetic, &mut rng)?;
        let gcfg = GeneratorCfg {
            encoder_channels: enc.channels.clone(),
            width: cfg.width,
            num_classes: cfg.num_classes,
            up: if synthetic {
                Upsample::Nearest
            } else {
                Upsample::Bilinear
            },
            skips: cfg.skips.clone(),
            head: cfg.head,
            sn: synthetic,
            head_init_scale: cfg.head_init_scale,
        };
        let gen = Generator::new(&mut eg.scope("gen"), &gcfg, &mut rng)?;
        let mut d = ParamGroup::new("D", device);
        let layout: &[(usize, usize)] = if synthetic {
            &DISCRIMINATOR_SYNTHETIC
        } else {
            &DISCRIMINATOR_TUH
        };
        let disc = Discriminator::new(
            &mut d.scope("disc"),
            1,
            layout,
            cfg.width,
            cfg.num_classes,
            &mut rng,
        )?;
        Ok(CoinNets {
            eg,
            d,
            enc,
            gen,
            disc,
            cfg: cfg.clone(),
        })
    }
}

/// The classifier `f` in its own group (`classifier_f.*`).
pub struct Classifier {
    pub group: ParamGroup,
    pub net: ResNet18,
    pub base: usize,
}

impl Classifier {
    /// A ResNet-18 with stage widths `base`·{1, 2, 4, 8} (64 in torchvision).
    pub fn new(base: usize, device: Device, seed: u64) -> Result<Classifier> {
        let mut rng = Rng::new(seed);
        let mut group = ParamGroup::new("classifier", device);
        let net = ResNet18::new(&mut group.scope("classifier_f"), 1, base, &mut rng)?;
        Ok(Classifier { group, net, base })
    }
}
