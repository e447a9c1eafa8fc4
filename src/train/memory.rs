//! A memory estimate made before the first step, so a configuration that cannot fit is refused
//! with numbers instead of dying mid-run.

use super::preset::RunConfig;
use crate::{Error, Result};

/// Rough bytes a training step needs at `batch`: parameters with gradients and Adam moments,
/// plus the activations of the G step's recorded E+G passes (COIN: two; Singla et al.: two and
/// a third generator pass, counted as 0.6 of one — the decoder holds most of an E+G graph's
/// activations), D and the classifier. Calibrated against the authors' COIN configuration
/// (≈ 8 GB per E+G graph at 256², batch 16, widths ×1).
pub fn coin_step_bytes(cfg: &RunConfig, batch: usize) -> f64 {
    let w = cfg.coin.width;
    let px = (cfg.data.size * cfg.data.size) as f64 / (256.0 * 256.0);
    let passes = match cfg.coin.method {
        crate::models::Method::Coin => 2.0,
        crate::models::Method::Singla => 2.6,
    };
    let graphs = passes * 8.0e9 * (batch as f64 / 16.0) * px * (0.15 + 0.85 * w);
    let disc_and_f = 0.35 * graphs;
    let params =
        4.0 * 4.0 * 92e6 * w * w + 4.0 * 4.0 * 11.2e6 * (cfg.classifier.base as f64 / 64.0).powi(2);
    graphs + disc_and_f + params
}

fn available_bytes() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// Errors when the estimate exceeds 90 % of the available memory, naming a batch that fits.
pub fn check_memory(cfg: &RunConfig) -> Result<()> {
    let Some(avail) = available_bytes() else {
        return Ok(());
    };
    let need = coin_step_bytes(cfg, cfg.coin.batch);
    if need <= 0.9 * avail {
        return Ok(());
    }
    let fits = (1..cfg.coin.batch)
        .rev()
        .find(|&b| coin_step_bytes(cfg, b) <= 0.9 * avail);
    Err(Error::Invalid(format!(
        "out of memory ahead: a {} step at {}², widths ×{}, batch {} needs about {:.1} GB, {:.1} GB are available{}",
        cfg.coin.method.label(),
        cfg.data.size,
        cfg.coin.width,
        cfg.coin.batch,
        need / 1e9,
        avail / 1e9,
        match fits {
            Some(b) if b >= 2 => format!("; batch {b} should fit (coin.batch)"),
            _ => "; lower data.size or coin.width".to_string(),
        }
    )))
}
