//! The built-in phantom: reproducible, anatomically ordered, kidneys that grow and shrink, every
//! contrast phase, and a lossless trip through NIfTI.

use coin::data::phantom::{contact_sheet, patient, PhantomSpec, Phase};
use coin::data::{read_volume, write_hu, write_labels};

fn small() -> PhantomSpec {
    PhantomSpec {
        nx: 64,
        ny: 64,
        nz: 24,
        spacing: [6.0, 6.0, 6.0],
        seed: 5,
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
