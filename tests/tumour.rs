//! The paper's synthetic tumours: template, placement inside a kidney, additive brightening,
//! probabilities, spacing scaling and reported failures.

use coin::data::tumour::{insert, template, Outcome, TumourParams};
use coin::rng::Rng;

/// A 96×96 slice at −0.5 with two kidney ellipses (the left one larger).
fn slice_with_kidneys(a: f64, b: f64) -> (Vec<f32>, Vec<u8>) {
    let (h, w) = (96, 96);
    let mut kid = vec![0u8; h * w];
    for y in 0..h {
        for x in 0..w {
            let e = |cx: f64, cy: f64, s: f64| {
                ((x as f64 - cx) / (a * s)).powi(2) + ((y as f64 - cy) / (b * s)).powi(2) < 1.0
            };
            kid[y * w + x] = (e(28.0, 50.0, 1.0) || e(70.0, 50.0, 0.9)) as u8;
        }
    }
    (vec![-0.5; h * w], kid)
}

#[test]
fn template_matches_the_papers_blob() {
    let (g, m) = template(20, 0.4, 0.25);
    assert_eq!(
        m.iter().map(|&v| v as usize).sum::<usize>(),
        120,
        "mask covers 120 px of 20×20"
    );
    let peak = g.iter().cloned().fold(0.0, f32::max);
    assert!((peak - 0.983).abs() < 1e-3, "peak {peak}");
}

#[test]
fn tumours_are_bright_additive_and_centred_in_a_kidney() {
    let (img, kid) = slice_with_kidneys(16.0, 22.0);
    let prm = TumourParams {
        p: 1.0,
        ..Default::default()
    };
    let mut inserted = 0;
    for i in 0..60 {
        let mut r = Rng::keyed(7, &[i]);
        let s = insert(&img, &kid, 96, 96, &prm, &mut r).unwrap();
        if s.outcome != Outcome::Inserted {
            continue;
        }
        inserted += 1;
        assert_eq!(s.label(), 1);
        let area: usize = s.tumour.iter().map(|&t| t as usize).sum();
        assert!((40..=200).contains(&area), "tumour area {area}");
        // Only brighter, at most to white; untouched far from the mask.
        for (k, (&a, &b)) in s.image.iter().zip(&img).enumerate() {
            assert!(a >= b - 1e-6 && a <= 1.0, "pixel {k}: {b} -> {a}");
        }
        let changed = s.image.iter().zip(&img).filter(|(a, b)| a != b).count();
        assert!(changed >= area, "the blob's support covers its mask");
        // The tumour's centre of mass lies in a kidney.
        let (sy, sx) = s
            .tumour
            .iter()
            .enumerate()
            .filter(|(_, &t)| t > 0)
            .fold((0, 0), |(a, b), (k, _)| (a + k / 96, b + k % 96));
        let (cy, cx) = (sy / area, sx / area);
        assert_eq!(
            kid[cy * 96 + cx],
            1,
            "centre ({cy}, {cx}) outside the kidneys"
        );
    }
    assert!(inserted >= 55, "only {inserted} of 60 placed");
    // Reproducible from the same stream.
    let a = insert(&img, &kid, 96, 96, &prm, &mut Rng::keyed(1, &[2])).unwrap();
    let b = insert(&img, &kid, 96, 96, &prm, &mut Rng::keyed(1, &[2])).unwrap();
    assert_eq!(a.image, b.image);
}

#[test]
fn probability_size_condition_spacing_and_failures() {
    let (img, kid) = slice_with_kidneys(16.0, 22.0);
    let prm = TumourParams::default();
    let n = 400;
    let pos = (0..n)
        .filter(|&i| {
            insert(&img, &kid, 96, 96, &prm, &mut Rng::keyed(3, &[i]))
                .unwrap()
                .label()
                == 1
        })
        .count();
    let rate = pos as f64 / n as f64;
    assert!((rate - 0.65).abs() < 0.07, "positive rate {rate}");
    let never = TumourParams { p: 0.0, ..prm };
    assert_eq!(
        insert(&img, &kid, 96, 96, &never, &mut Rng::new(1))
            .unwrap()
            .outcome,
        Outcome::NotDrawn
    );
    // Kidneys with a 15×13 box: too small for the 20 px template at 1.5 mm, fine at 3 mm
    // (template 10 px, box threshold 100 px).
    let (img2, small) = slice_with_kidneys(7.0, 6.0);
    let always = TumourParams { p: 1.0, ..prm };
    assert_eq!(
        insert(&img2, &small, 96, 96, &always, &mut Rng::new(2))
            .unwrap()
            .outcome,
        Outcome::KidneyTooSmall
    );
    let coarse = TumourParams {
        spacing_mm: 3.0,
        ..always
    };
    assert_eq!(
        insert(&img2, &small, 96, 96, &coarse, &mut Rng::new(2))
            .unwrap()
            .outcome,
        Outcome::Inserted
    );
    // A kidney hugging the border: no patch fits, reported instead of swallowed.
    let mut edge = vec![0u8; 96 * 96];
    for y in 0..96 {
        for x in 0..6 {
            edge[y * 96 + x] = 1;
        }
    }
    assert_eq!(
        insert(&img, &edge, 96, 96, &always, &mut Rng::new(4))
            .unwrap()
            .outcome,
        Outcome::PlacementFailed
    );
    assert_eq!(
        insert(&img, &vec![0; 96 * 96], 96, 96, &always, &mut Rng::new(4))
            .unwrap()
            .outcome,
        Outcome::KidneyTooSmall
    );
    assert!(insert(&img[..10], &kid, 96, 96, &always, &mut Rng::new(4)).is_err());
}

#[test]
fn baked_tumours_brighten_only_their_slices_and_are_labelled() {
    use coin::data::bake::{bake_tumours, BakeCfg};
    let spec = coin::data::PhantomSpec {
        nz: 24,
        seed: 5,
        ..Default::default()
    };
    let p = coin::data::patient(&spec, 0);
    let cfg = BakeCfg {
        axis: 2,
        kidney: vec![1],
        window: coin::data::Window::hu(-100.0, 300.0).unwrap(),
        params: TumourParams::default(),
        tumour_id: 2,
        seed: 9,
    };
    let b = bake_tumours(&p.image, &p.labels, &cfg).unwrap();
    assert!(!b.slices.is_empty(), "no slice got a tumour");
    let mut brighter = 0;
    for (i, ((&orig, &baked), &id)) in p
        .image
        .data
        .iter()
        .zip(&b.image.data)
        .zip(&b.labels.data)
        .enumerate()
    {
        // The blob's faint rim below the mask threshold brightens too, as in the paper.
        assert!(baked >= orig - 1e-3, "voxel {i}: a tumour never darkens");
        if id == 2.0 {
            brighter += (baked > orig + 1.0) as usize;
        } else {
            assert_eq!(id, p.labels.data[i]);
        }
        let z = i / (p.image.dims[0] * p.image.dims[1]);
        if !b.slices.contains(&z) {
            assert_eq!(baked, orig, "voxel {i} of an untouched slice changed");
        }
    }
    assert!(brighter > 0);
    let z_of = |i: usize| i / (p.image.dims[0] * p.image.dims[1]);
    for (i, &id) in b.labels.data.iter().enumerate() {
        if id == 2.0 {
            assert!(b.slices.contains(&z_of(i)));
        }
    }
}
