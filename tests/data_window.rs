//! CT windowing, fingerprints, and OpenCV-style slice resizing.

use coin::data::nifti::{Geometry, Volume};
use coin::data::window::percentile;
use coin::data::{fingerprint, resize_linear, resize_nearest, Fingerprint, Window};

fn vol(data: Vec<f32>, dims: [usize; 3]) -> Volume {
    Volume {
        data,
        dims,
        spacing: [1.0; 3],
        affine: [
            [1., 0., 0., 0.],
            [0., 1., 0., 0.],
            [0., 0., 1., 0.],
            [0., 0., 0., 1.],
        ],
        geometry: Geometry {
            pixdim: [1.0; 8],
            qform_code: 0,
            sform_code: 0,
            quatern: [0.0; 3],
            qoffset: [0.0; 3],
            srow: [[0.0; 4]; 3],
            xyzt_units: 2,
        },
        source: "test.nii".into(),
    }
}

#[test]
fn windows_map_onto_minus_one_one() {
    let w = Window::hu(-100.0, 300.0).unwrap();
    assert_eq!(w.apply(-1000.0), -1.0);
    assert_eq!(w.apply(300.0), 1.0);
    assert_eq!(w.apply(100.0), 0.0);
    assert_eq!(w.apply(5000.0), 1.0);
    assert!(Window::hu(10.0, 10.0).is_err() && Window::hu(f32::NAN, 1.0).is_err());
}

#[test]
fn percentiles_follow_numpy_linear_interpolation() {
    assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.5);
    let r: Vec<f64> = (0..=100).map(|v| v as f64).collect();
    assert!((percentile(&r, 0.5) - 0.5).abs() < 1e-12);
    assert!((percentile(&r, 99.5) - 99.5).abs() < 1e-12);
}

#[test]
fn fingerprint_of_foreground_is_seeded_and_saved() {
    // Foreground (label 1 or 2) holds HU 0..=99 uniformly; background is −1000 and never drawn.
    let n = 10 * 10 * 4;
    let img: Vec<f32> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                (i / 2 % 100) as f32
            } else {
                -1000.0
            }
        })
        .collect();
    let lab: Vec<f32> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                1.0 + (i % 4 == 0) as u8 as f32
            } else {
                0.0
            }
        })
        .collect();
    let (a, b) = (vol(img.clone(), [10, 10, 4]), vol(lab.clone(), [10, 10, 4]));
    let f = fingerprint(&[(&a, &b), (&a, &b)], &[1, 2], 20_000, 1234).unwrap();
    assert!(f.min >= 0.0 && f.max <= 99.0, "background drawn: {f:?}");
    assert!((f.mean - 49.5).abs() < 1.0, "{f:?}");
    assert!(f.percentile_00_5 < 1.5 && f.percentile_99_5 > 97.5);
    assert_eq!(
        f,
        fingerprint(&[(&a, &b), (&a, &b)], &[1, 2], 20_000, 1234).unwrap(),
        "same seed, same result"
    );
    assert_ne!(
        f.mean,
        fingerprint(&[(&a, &b)], &[1, 2], 20_000, 99).unwrap().mean
    );
    let w = Window::from_fingerprint(&f).unwrap();
    assert_eq!(
        (w.lo, w.hi),
        (f.percentile_00_5 as f32, f.percentile_99_5 as f32)
    );
    let path = std::env::temp_dir().join(format!("coin-fp-{}.json", std::process::id()));
    f.save(&path).unwrap();
    assert_eq!(Fingerprint::load(&path).unwrap(), f);
    std::fs::write(&path, "{\"mean\": 1}").unwrap();
    assert!(Fingerprint::load(&path)
        .unwrap_err()
        .to_string()
        .contains("not a fingerprint"));
    // No foreground, or image and labels of different sizes: errors.
    assert!(fingerprint(&[(&a, &b)], &[7], 10, 1).is_err());
    let small = vol(vec![0.0; 8], [2, 2, 2]);
    assert!(fingerprint(&[(&a, &small)], &[1], 10, 1).is_err());
}

#[test]
fn linear_resize_has_opencv_half_pixel_semantics() {
    // 4×4 → 2×2 is the 2×2 box average.
    let src: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let out = resize_linear(&src, 4, 4, 2, 2).unwrap();
    assert_eq!(out, vec![2.5, 4.5, 10.5, 12.5]);
    // 1×2 → 1×4: [1, 1.25, 1.75, 2] (border samples clamp).
    assert_eq!(
        resize_linear(&[1.0, 2.0], 1, 2, 1, 4).unwrap(),
        vec![1.0, 1.25, 1.75, 2.0]
    );
    assert_eq!(resize_linear(&src, 4, 4, 4, 4).unwrap(), src);
    assert!(resize_linear(&src, 4, 3, 2, 2).is_err());
}

/// The per-pixel four-neighbour blend, the definition the separable fast path must match bit
/// for bit (same products, same order).
fn resize_linear_naive(src: &[f32], h: usize, w: usize, oh: usize, ow: usize) -> Vec<f32> {
    let map = |d: usize, inp: usize, out: usize| {
        let s = ((d as f64 + 0.5) * inp as f64 / out as f64 - 0.5).max(0.0);
        let i0 = (s.floor() as usize).min(inp - 1);
        let i1 = (i0 + 1).min(inp - 1);
        (i0, i1, (s - i0 as f64).min(1.0) as f32)
    };
    let mut out = Vec::new();
    for i in 0..oh {
        let (y0, y1, ly) = map(i, h, oh);
        for j in 0..ow {
            let (x0, x1, lx) = map(j, w, ow);
            let top = src[y0 * w + x0] * (1.0 - lx) + src[y0 * w + x1] * lx;
            let bot = src[y1 * w + x0] * (1.0 - lx) + src[y1 * w + x1] * lx;
            out.push(top * (1.0 - ly) + bot * ly);
        }
    }
    out
}

#[test]
fn separable_linear_resize_matches_the_four_neighbour_blend() {
    let mut r = coin::rng::Rng::new(3);
    for &(h, w, oh, ow) in &[
        (122, 101, 256, 256),
        (512, 512, 256, 256),
        (7, 5, 3, 11),
        (1, 9, 4, 2),
        (30, 30, 31, 29),
    ] {
        let src: Vec<f32> = (0..h * w).map(|_| r.normal() as f32).collect();
        let fast = resize_linear(&src, h, w, oh, ow).unwrap();
        let slow = resize_linear_naive(&src, h, w, oh, ow);
        let worst = fast
            .iter()
            .zip(&slow)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "{h}×{w} → {oh}×{ow}: {worst}");
    }
}

#[test]
fn nearest_resize_takes_floor_of_scaled_index() {
    let src: Vec<u8> = (0..16).collect();
    assert_eq!(resize_nearest(&src, 4, 4, 2, 2).unwrap(), vec![0, 2, 8, 10]);
    assert_eq!(
        resize_nearest(&[1u8, 2], 1, 2, 1, 4).unwrap(),
        vec![1, 1, 2, 2]
    );
    assert_eq!(
        resize_nearest(&[1u8, 2, 3], 1, 3, 1, 2).unwrap(),
        vec![1, 2]
    );
}
