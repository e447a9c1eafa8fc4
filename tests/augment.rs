//! Augmentations and epoch orders: exact flips, identity at zero limits, binary masks,
//! reproducible draws, permutations, class balance.

use coin::data::augment::{balanced_order, epoch_order, warp, Augment};
use coin::rng::Rng;

fn ramp(h: usize, w: usize) -> Vec<f32> {
    (0..h * w).map(|i| i as f32).collect()
}

#[test]
fn flips_and_identity() {
    let (h, w) = (3, 4);
    let only_h = Augment {
        hflip: 1.0,
        vflip: 0.0,
        ssr: 0.0,
        ..Default::default()
    };
    let (mut img, mut masks) = (ramp(h, w), vec![(0..12u8).collect::<Vec<_>>()]);
    only_h.apply(&mut img, &mut masks, h, w, &mut Rng::new(1));
    assert_eq!(&img[..4], &[3.0, 2.0, 1.0, 0.0]);
    assert_eq!(&masks[0][..4], &[3, 2, 1, 0]);
    let only_v = Augment {
        hflip: 0.0,
        vflip: 1.0,
        ssr: 0.0,
        ..Default::default()
    };
    let mut img = ramp(h, w);
    only_v.apply(&mut img, &mut [], h, w, &mut Rng::new(1));
    assert_eq!(&img[..4], &[8.0, 9.0, 10.0, 11.0]);
    let still = Augment {
        hflip: 0.0,
        vflip: 0.0,
        ssr: 1.0,
        shift: 0.0,
        scale: 0.0,
        rotate_deg: 0.0,
    };
    let mut img = ramp(h, w);
    still.apply(&mut img, &mut [], h, w, &mut Rng::new(1));
    assert_eq!(img, ramp(h, w), "zero limits leave the image as it was");
}

#[test]
fn warp_samples_with_zero_border() {
    let (img, m) = warp(&ramp(2, 3), &[vec![1, 1, 1, 1, 1, 1]], 2, 3, |x, y| {
        (x + 1.0, y)
    });
    assert_eq!(img, vec![1.0, 2.0, 0.0, 4.0, 5.0, 0.0]);
    assert_eq!(m[0], vec![1, 1, 0, 1, 1, 0]);
}

#[test]
fn random_augmentations_are_reproducible_and_keep_masks_binary() {
    let (h, w) = (32, 32);
    let a = Augment::default();
    let mask: Vec<u8> = (0..h * w)
        .map(|i| ((i / w) > 10 && (i / w) < 20 && (i % w) > 8 && (i % w) < 24) as u8)
        .collect();
    for k in 0..20 {
        let (mut i1, mut m1) = (ramp(h, w), vec![mask.clone()]);
        let (mut i2, mut m2) = (ramp(h, w), vec![mask.clone()]);
        a.apply(&mut i1, &mut m1, h, w, &mut Rng::keyed(5, &[0, k]));
        a.apply(&mut i2, &mut m2, h, w, &mut Rng::keyed(5, &[0, k]));
        assert_eq!(i1, i2);
        assert_eq!(m1, m2);
        assert!(m1[0].iter().all(|&v| v <= 1));
        assert!(
            m1[0].iter().filter(|&&v| v == 1).count() > 60,
            "the mask survives the warp"
        );
    }
}

#[test]
fn epoch_orders() {
    let o = epoch_order(100, 42, 3);
    let mut s = o.clone();
    s.sort();
    assert_eq!(s, (0..100).collect::<Vec<_>>());
    assert_eq!(o, epoch_order(100, 42, 3));
    assert_ne!(o, epoch_order(100, 42, 4));
    let labels: Vec<u8> = (0..200).map(|i| (i < 20) as u8).collect();
    let b = balanced_order(&labels, 42, 0);
    assert_eq!(b.len(), 200);
    let ones = b.iter().filter(|&&i| labels[i] == 1).count() as f64 / 200.0;
    assert!(
        (ones - 0.5).abs() < 0.1,
        "balanced share of the rare class {ones}"
    );
}
