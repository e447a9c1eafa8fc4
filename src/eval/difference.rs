//! The paper's segmentation rule, defined once: the difference map `|x − x_cf| / 2` (images in
//! [−1, 1], so the map is in [0, 1] units) and the mask `difference > threshold` (0.25 in the
//! paper). Evaluation, the report's COIN rows, the perfect-inpainter ceiling and `segment` all
//! call these two.

/// `|x − x_cf| / 2` per pixel.
pub fn difference(x: &[f32], x_cf: &[f32]) -> Vec<f32> {
    debug_assert_eq!(x.len(), x_cf.len());
    x.iter()
        .zip(x_cf)
        .map(|(&a, &c)| pixel_difference(a, c))
        .collect()
}

/// One pixel of [`difference`].
#[inline]
pub fn pixel_difference(x: f32, x_cf: f32) -> f32 {
    (x - x_cf).abs() / 2.0
}

/// `difference > threshold` per pixel (the threshold compared in f32, as the map is).
pub fn mask(difference: &[f32], threshold: f64) -> Vec<bool> {
    let t = threshold as f32;
    difference.iter().map(|&d| d > t).collect()
}

/// [`mask`] of [`difference`] without the intermediate map.
pub fn mask_of<'a>(
    x: &'a [f32],
    x_cf: &'a [f32],
    threshold: f64,
) -> impl Iterator<Item = bool> + 'a {
    let t = threshold as f32;
    x.iter()
        .zip(x_cf)
        .map(move |(&a, &c)| pixel_difference(a, c) > t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_is_half_the_absolute_difference_above_the_threshold() {
        let x = [1.0, -1.0, 0.2, 0.0];
        let cf = [-1.0, -1.0, -0.4, 0.5];
        assert_eq!(difference(&x, &cf), vec![1.0, 0.0, 0.3, 0.25]);
        assert_eq!(
            mask(&difference(&x, &cf), 0.25),
            vec![true, false, true, false]
        );
        assert_eq!(
            mask_of(&x, &cf, 0.25).collect::<Vec<_>>(),
            vec![true, false, true, false]
        );
    }
}
