//! Pooled pixel counts and image-level classification metrics.

use serde::Serialize;

/// Pixel counts pooled over many images (the paper's `BinaryJaccardIndex`: one TP/FP/FN tally
/// over every pixel of every evaluated slice).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
    pub tn: u64,
}

impl Confusion {
    /// Adds one image: `pred` and `truth` as booleans per pixel.
    pub fn add(&mut self, pred: impl Iterator<Item = bool>, truth: impl Iterator<Item = bool>) {
        for (p, t) in pred.zip(truth) {
            match (p, t) {
                (true, true) => self.tp += 1,
                (true, false) => self.fp += 1,
                (false, true) => self.fn_ += 1,
                (false, false) => self.tn += 1,
            }
        }
    }
    /// Adds another set of counts (pooling disjoint pixels: slices, patients, splits).
    pub fn merge(&mut self, other: &Confusion) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
        self.tn += other.tn;
    }
    /// TP / (TP + FP + FN); 0 when there is nothing to find and nothing was predicted.
    pub fn iou(&self) -> f64 {
        let d = self.tp + self.fp + self.fn_;
        if d == 0 {
            0.0
        } else {
            self.tp as f64 / d as f64
        }
    }
    /// 2·TP / (2·TP + FP + FN) (= 2·IoU / (1 + IoU) for pooled counts).
    pub fn dice(&self) -> f64 {
        let d = 2 * self.tp + self.fp + self.fn_;
        if d == 0 {
            0.0
        } else {
            2.0 * self.tp as f64 / d as f64
        }
    }
}

/// Image-level binary classification counts at one threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct BinaryCounts {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
    pub tn: u64,
}

impl BinaryCounts {
    pub fn from_scores(scores: &[f64], labels: &[u8], threshold: f64) -> BinaryCounts {
        let mut c = BinaryCounts::default();
        for (&s, &l) in scores.iter().zip(labels) {
            match (s >= threshold, l == 1) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, true) => c.fn_ += 1,
                (false, false) => c.tn += 1,
            }
        }
        c
    }
    fn ratio(a: u64, b: u64) -> f64 {
        if b == 0 {
            0.0
        } else {
            a as f64 / b as f64
        }
    }
    pub fn accuracy(&self) -> f64 {
        Self::ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_)
    }
    pub fn precision(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        Self::ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

/// The area under the ROC curve (the probability that a random positive scores above a random
/// negative, ties counting half); `None` without both classes.
pub fn roc_auc(scores: &[f64], labels: &[u8]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut i) = (0.0, 0);
    let n_pos = labels.iter().filter(|&&l| l == 1).count() as f64;
    let n_neg = labels.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += idx[i..=j].iter().filter(|&&k| labels[k] == 1).count() as f64 * avg_rank;
        i = j + 1;
    }
    Some((rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_counts_equal_the_pixels_counted_together() {
        let (pa, ta) = ([true, true, false, false], [true, false, true, false]);
        let (pb, tb) = ([true, false, false], [true, true, false]);
        let (mut a, mut b, mut both) = (
            Confusion::default(),
            Confusion::default(),
            Confusion::default(),
        );
        a.add(pa.into_iter(), ta.into_iter());
        b.add(pb.into_iter(), tb.into_iter());
        both.add(pa.into_iter().chain(pb), ta.into_iter().chain(tb));
        a.merge(&b);
        assert_eq!(a, both);
        assert_eq!((a.tp, a.fp, a.fn_, a.tn), (2, 1, 2, 2));
    }
}
