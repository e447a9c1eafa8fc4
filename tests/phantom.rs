//! The built-in phantom: reproducible, anatomically ordered, kidneys that grow and shrink, every
//! contrast phase, and a lossless trip through NIfTI.

use coin::data::phantom::{contact_sheet, patient, PhantomSpec, Phase};
use coin::data::Family;
use coin::data::{read_volume, write_hu, write_labels};

fn small() -> PhantomSpec {
    PhantomSpec {
        nx: 64,
        ny: 64,
        nz: 24,
        spacing: [6.0, 6.0, 6.0],
        seed: 5,
        ..PhantomSpec::default()
    }
}

#[test]
fn patients_are_reproducible_and_varied() {
    let s = small();
    let a = patient(&s, 3);
    assert_eq!(a.image.data, patient(&s, 3).image.data);
    assert_ne!(a.image.data, patient(&s, 4).image.data);
    let phases: Vec<Phase> = (0..12).map(|p| patient(&s, p).phase).collect();
    for ph in [Phase::Native, Phase::Venous, Phase::Arterial] {
        assert!(phases.contains(&ph), "{ph:?} never drawn in {phases:?}");
    }
}

#[test]
fn family_knobs_change_what_they_name_and_nothing_by_default() {
    let s = small();
    let with = |family: Family| PhantomSpec { family, ..small() };
    let d = Family::default();
    assert_eq!(
        patient(&with(d), 2).image.data,
        patient(&s, 2).image.data,
        "the default family is the built-in phantom"
    );
    let kidney = |spec: &PhantomSpec| -> usize {
        (0..6)
            .map(|p| {
                patient(spec, p)
                    .labels
                    .data
                    .iter()
                    .filter(|&&l| l > 0.0)
                    .count()
            })
            .sum()
    };
    let big = with(Family {
        kidney_scale: 1.25,
        ..d
    });
    assert!(
        kidney(&big) as f64 > 1.5 * kidney(&s) as f64,
        "kidney_scale grows the kidneys"
    );
    // Noise: the spread of air outside the body (−1000 HU plus noise), corner voxels.
    let spread = |spec: &PhantomSpec| -> f64 {
        let pat = patient(spec, 1);
        let v: Vec<f64> = pat.image.data[..spec.nx]
            .iter()
            .map(|&x| x as f64 + 1000.0)
            .collect();
        (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt()
    };
    let noisy = with(Family {
        noise_scale: 2.0,
        ..d
    });
    let ratio = spread(&noisy) / spread(&s);
    assert!(
        (1.6..2.4).contains(&ratio),
        "noise_scale 2: spread ×{ratio}"
    );
    let arterial = with(Family {
        phase_mix: [0.0, 0.0, 1.0],
        ..d
    });
    assert!((0..8).all(|p| patient(&arterial, p).phase == Phase::Arterial));
    let mostly_native = with(Family {
        phase_mix: [8.0, 1.0, 1.0],
        ..d
    });
    let native = (0..40)
        .filter(|&p| patient(&mostly_native, p).phase == Phase::Native)
        .count();
    assert!(
        (24..=39).contains(&native),
        "phase_mix 8:1:1 drew {native} of 40 native"
    );
}

#[test]
fn kidneys_are_labelled_and_grow_then_shrink() {
    let s = small();
    for p in 0..4 {
        let pat = patient(&s, p);
        let plane = s.nx * s.ny;
        let counts: Vec<usize> = (0..s.nz)
            .map(|k| {
                pat.labels.data[k * plane..(k + 1) * plane]
                    .iter()
                    .filter(|&&l| l > 0.0)
                    .count()
            })
            .collect();
        let peak = (0..s.nz).max_by_key(|&k| counts[k]).unwrap();
        assert!(
            counts[peak] > 10,
            "patient {p}: kidneys too small {counts:?}"
        );
        assert!(
            counts[..peak].iter().any(|&c| c < counts[peak] / 2),
            "no growth before the peak: {counts:?}"
        );
        assert!(
            counts[peak + 1..].iter().any(|&c| c < counts[peak] / 2),
            "no shrink after the peak: {counts:?}"
        );
        // Kidney voxels are soft tissue (cortex/medulla ± noise), air is air.
        for (hu, l) in pat.image.data.iter().zip(&pat.labels.data) {
            if *l > 0.0 {
                assert!((-60.0..320.0).contains(hu), "kidney voxel at {hu} HU");
            }
        }
        assert!(pat.image.data[0] < -900.0, "corner should be air");
        let max = pat.image.data.iter().cloned().fold(f32::MIN, f32::max);
        assert!(max > 600.0, "no bone cortex (max {max})");
    }
}

#[test]
fn phantom_survives_nifti_round_trip_and_renders() {
    let s = small();
    let pat = patient(&s, 1);
    let dir = std::env::temp_dir().join(format!("coin-phantom-{}", std::process::id()));
    let (img, lab) = (dir.join("images/p.nii.gz"), dir.join("labels/p.nii.gz"));
    write_hu(&img, &pat.image.data, pat.image.dims, &pat.image.geometry).unwrap();
    let labels: Vec<u8> = pat.labels.data.iter().map(|&l| l as u8).collect();
    write_labels(&lab, &labels, &pat.image).unwrap();
    let (bi, bl) = (read_volume(&img).unwrap(), read_volume(&lab).unwrap());
    assert_eq!(bi.dims, pat.image.dims);
    assert_eq!(bi.affine, pat.image.affine);
    assert!(
        bi.data
            .iter()
            .zip(&pat.image.data)
            .all(|(a, b)| (a - b).abs() <= 0.5),
        "int16 rounding only"
    );
    assert_eq!(bl.data, pat.labels.data);
    let (px, w, h) = contact_sheet(&[pat], -160.0, 240.0, 4);
    assert_eq!((w, h, px.len()), (4 * 64, 64, 4 * 64 * 64));
    assert!(px.iter().any(|&g| g > 200) && px.contains(&0));
    std::fs::remove_dir_all(&dir).ok();
}
