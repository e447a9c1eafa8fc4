//! Per-patient pixel counts of a segmentation score, and how far its pooled IoU would move with
//! other patients from the same population: a 90 % interval from the patients' leave-one-out
//! jackknife and Student's t with n − 1 degrees of freedom. A validation split of four or five
//! patients gives an IoU that other patients do not share (docs/results.md, "Where the
//! validation→test gap comes from"). A percentile bootstrap over so few patients is too
//! narrow: on the tuning phantoms' per-patient scores its interval held the IoU of all 42–45
//! patients in 11 of 15 cases, this one in 13 (docs/outputs.md).

use super::Confusion;
use serde::Serialize;

/// One patient's pooled pixel counts over its ground-truth-abnormal slices with masks.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PatientConfusion {
    pub patient: String,
    pub slices: usize,
    pub confusion: Confusion,
}

/// Student's t, 95th percentile, 1–30 degrees of freedom.
const T95: [f64; 30] = [
    6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812, 1.796, 1.782, 1.771,
    1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711, 1.708, 1.706,
    1.703, 1.701, 1.699, 1.697,
];

/// Student's t, 95th percentile, `df` ≥ 1 degrees of freedom (beyond the table: the normal
/// quantile with its first Cornish–Fisher term, within 0.002 of the exact value).
fn t95(df: usize) -> f64 {
    match T95.get(df.wrapping_sub(1)) {
        Some(&t) => t,
        None => {
            let z = 1.644_854;
            z + (z * z * z + z) / (4.0 * df as f64)
        }
    }
}

/// The pooled IoU of `patients` without patient `skip`.
fn iou_without(patients: &[PatientConfusion], skip: usize) -> f64 {
    let mut pooled = Confusion::default();
    let kept = patients.iter().enumerate().filter(|&(i, _)| i != skip);
    kept.for_each(|(_, p)| pooled.merge(&p.confusion));
    pooled.iou()
}

/// A 90 % interval of the pooled IoU over patients like these: IoU ± t₀.₉₅(n − 1) · the
/// jackknife standard error (leave one patient out, `(n − 1)/n · Σ (θ₋ᵢ − θ̄)²`), clipped to
/// [0, 1]. None with fewer than two patients: one patient says nothing about others.
pub fn patient_interval(patients: &[PatientConfusion]) -> Option<(f64, f64)> {
    let n = patients.len();
    if n < 2 {
        return None;
    }
    let all = iou_without(patients, usize::MAX);
    let loo: Vec<f64> = (0..n).map(|i| iou_without(patients, i)).collect();
    let mean = loo.iter().sum::<f64>() / n as f64;
    let var = (n - 1) as f64 / n as f64 * loo.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
    let half = t95(n - 1) * var.sqrt();
    Some(((all - half).max(0.0), (all + half).min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient(name: &str, tp: u64, fp: u64, fn_: u64) -> PatientConfusion {
        PatientConfusion {
            patient: name.into(),
            slices: 1,
            confusion: Confusion { tp, fp, fn_, tn: 0 },
        }
    }

    #[test]
    fn one_patient_gives_no_interval() {
        assert_eq!(patient_interval(&[patient("a", 5, 1, 1)]), None);
        assert_eq!(patient_interval(&[]), None);
    }

    #[test]
    fn alike_patients_give_a_point() {
        let same = [patient("a", 6, 2, 2), patient("b", 3, 1, 1)]; // both IoU 0.6
        let (lo, hi) = patient_interval(&same).unwrap();
        assert!(
            (lo - 0.6).abs() < 1e-12 && (hi - 0.6).abs() < 1e-12,
            "{lo} {hi}"
        );
    }

    #[test]
    fn unlike_patients_give_the_jackknife_t_interval() {
        // Hand-computed: pooled IoU 240/400 = 0.6; without each patient 0.5, 0.7333, 0.6333,
        // 0.5333; variance 3/4 · 0.03333 = 0.025; t₀.₉₅(3) = 2.353.
        let four = [
            patient("good", 90, 5, 5),
            patient("poor", 20, 40, 40),
            patient("fair", 50, 25, 25),
            patient("good2", 80, 10, 10),
        ];
        let (lo, hi) = patient_interval(&four).unwrap();
        assert!(
            (lo - 0.227958).abs() < 1e-5 && (hi - 0.972042).abs() < 1e-5,
            "{lo} {hi}"
        );
        // Twice the patients, t₀.₉₅(7) = 1.895: narrower around the pooled 0.61875.
        let mut eight = four.to_vec();
        eight.extend([
            patient("e", 70, 15, 15),
            patient("f", 60, 20, 20),
            patient("g", 85, 8, 7),
            patient("h", 40, 30, 30),
        ]);
        let (lo, hi) = patient_interval(&eight).unwrap();
        assert!(
            (lo - 0.456665).abs() < 1e-5 && (hi - 0.780835).abs() < 1e-5,
            "{lo} {hi}"
        );
    }

    #[test]
    fn t_quantiles_continue_past_the_table() {
        assert_eq!(t95(4), 2.132);
        assert!((t95(31) - 1.6955).abs() < 0.002 && (t95(40) - 1.6839).abs() < 0.002);
        assert!((t95(120) - 1.6577).abs() < 0.002);
    }
}
