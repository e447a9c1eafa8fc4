//! CT intensity windowing to [−1, 1], as the paper's `CTNormalization`: clip to the 0.5 and
//! 99.5 percentiles of foreground HU values, then map that range linearly onto [−1, 1]
//! (`x' = 2·(clip(x, lo, hi) − lo)/(hi − lo) − 1`; its z-score step cancels out).
//!
//! The window comes from a dataset **fingerprint**: foreground voxels (label ids in a given set)
//! drawn with replacement, a fixed number per scan, from a seeded counter-based generator, and
//! their mean, std and percentiles (NumPy's default linear interpolation). The paper's code
//! computed it over train + test, which leaks test statistics into training; compute it on the
//! training split only and save it as JSON to reuse. Fixed HU windows are available too.

use crate::data::nifti::Volume;
use crate::rng::Rng;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Statistics of foreground intensities (HU) over a set of scans.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub mean: f64,
    pub std: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub percentile_00_5: f64,
    pub percentile_99_5: f64,
    /// Voxels drawn per scan, the seed, and the label ids counted as foreground.
    pub samples_per_scan: usize,
    pub seed: u64,
    pub foreground: Vec<u32>,
    pub scans: usize,
}

/// A linear intensity window mapped onto [−1, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub lo: f32,
    pub hi: f32,
}

impl Window {
    /// A fixed HU window, e.g. `Window::hu(-100.0, 300.0)` for kidney soft tissue.
    pub fn hu(lo: f32, hi: f32) -> Result<Window> {
        if lo.is_finite() && hi.is_finite() && lo < hi {
            Ok(Window { lo, hi })
        } else {
            Err(Error::Invalid(format!(
                "window [{lo}, {hi}] must be finite with lo < hi"
            )))
        }
    }
    /// The paper's window: the fingerprint's 0.5 and 99.5 percentiles.
    pub fn from_fingerprint(f: &Fingerprint) -> Result<Window> {
        Window::hu(f.percentile_00_5 as f32, f.percentile_99_5 as f32)
    }
    /// Maps one value.
    #[inline]
    pub fn apply(&self, x: f32) -> f32 {
        2.0 * (x.clamp(self.lo, self.hi) - self.lo) / (self.hi - self.lo) - 1.0
    }
    /// Maps a slice in place.
    pub fn apply_all(&self, xs: &mut [f32]) {
        xs.iter_mut().for_each(|x| *x = self.apply(*x));
    }
}

/// NumPy's default percentile (linear interpolation between closest ranks) of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = (q / 100.0) * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos - pos.floor());
    if i + 1 < sorted.len() {
        sorted[i] + f * (sorted[i + 1] - sorted[i])
    } else {
        sorted[i]
    }
}

/// The fingerprint of `scans` (image, label map) pairs: `samples_per_scan` foreground voxels
/// drawn with replacement from each (scan k uses stream (seed, k)). Scans without foreground
/// are skipped; no foreground anywhere is an error.
pub fn fingerprint(
    scans: &[(&Volume, &Volume)],
    foreground: &[u32],
    samples_per_scan: usize,
    seed: u64,
) -> Result<Fingerprint> {
    let mut drawn = Vec::with_capacity(samples_per_scan * scans.len());
    let mut used = 0;
    for (k, (img, lab)) in scans.iter().enumerate() {
        if img.dims != lab.dims {
            return Err(Error::Shape(format!(
                "fingerprint: image {} has dims {:?}, labels {} have {:?}",
                img.source.display(),
                img.dims,
                lab.source.display(),
                lab.dims
            )));
        }
        let fg: Vec<usize> = (0..lab.data.len())
            .filter(|&i| foreground.contains(&(lab.data[i] as u32)))
            .collect();
        if fg.is_empty() {
            continue;
        }
        used += 1;
        let mut rng = Rng::keyed(seed, &[k as u64]);
        for _ in 0..samples_per_scan {
            drawn.push(img.data[fg[rng.below(fg.len() as u64) as usize]] as f64);
        }
    }
    if drawn.is_empty() {
        return Err(Error::Invalid(format!(
            "fingerprint: no voxel of the scans carries a label in {foreground:?}"
        )));
    }
    drawn.sort_by(|a, b| a.total_cmp(b));
    let n = drawn.len() as f64;
    let mean = drawn.iter().sum::<f64>() / n;
    let std = (drawn.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    Ok(Fingerprint {
        mean,
        std,
        median: percentile(&drawn, 50.0),
        min: drawn[0],
        max: drawn[drawn.len() - 1],
        percentile_00_5: percentile(&drawn, 0.5),
        percentile_99_5: percentile(&drawn, 99.5),
        samples_per_scan,
        seed,
        foreground: foreground.to_vec(),
        scans: used,
    })
}

impl Fingerprint {
    /// Writes the fingerprint as JSON (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Format(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
    /// Reads a fingerprint written by `save` (or the paper's JSON with the same field names).
    pub fn load(path: &Path) -> Result<Fingerprint> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", path.display()),
            ))
        })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Format(format!("{}: not a fingerprint: {e}", path.display())))
    }
}
