//! The width multiplier shared by the networks' configs.

/// `channels` scaled by `width`, rounded, at least 1.
pub fn scaled(channels: &[usize], width: f64) -> Vec<usize> {
    channels
        .iter()
        .map(|&c| ((c as f64 * width).round() as usize).max(1))
        .collect()
}
