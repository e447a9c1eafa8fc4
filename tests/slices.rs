//! Slicing with provenance: the paper's orientation, fix-ups, write-back, filter and resize.

use coin::data::nifti::Volume;
use coin::data::phantom::{patient, PhantomSpec};
use coin::data::slices::{cut, kidney_slices, scaled_threshold, tumour_label, write_back};

fn numbered(dims: [usize; 3]) -> Volume {
    let mut v = patient(
        &PhantomSpec {
            nx: 4,
            ny: 4,
            nz: 4,
            spacing: [40.0; 3],
            seed: 1,
            ..PhantomSpec::default()
        },
        0,
    )
    .image;
    v.dims = dims;
    v.data = (0..dims.iter().product::<usize>())
        .map(|i| i as f32)
        .collect();
    v
}

#[test]
fn axial_slices_have_the_papers_orientation() {
    // dims [nx=3, ny=2, nz=4]; voxel (x, y, z) holds x + 3·(y + 2·z).
    let v = numbered([3, 2, 4]);
    let s = cut(&v, 2, 1, false, false, false).unwrap();
    // vol[:, :, 1]: X as rows, Y as columns.
    assert_eq!((s.rows, s.cols), (3, 2));
    assert_eq!(s.data, vec![6., 9., 7., 10., 8., 11.]);
    // KiTS-style axis 0: vol[1, :, :] (rows y, columns z).
    let k = cut(&v, 0, 1, false, false, false).unwrap();
    assert_eq!((k.rows, k.cols), (2, 4));
    assert_eq!(k.data, vec![1., 7., 13., 19., 4., 10., 16., 22.]);
    // Transpose then flip columns (the paper's KiTS fix-up).
    let t = cut(&v, 0, 1, true, false, true).unwrap();
    assert_eq!((t.rows, t.cols), (4, 2));
    assert_eq!(t.data, vec![4., 1., 10., 7., 16., 13., 22., 19.]);
    assert!(cut(&v, 2, 4, false, false, false).is_err());
}

#[test]
fn masks_write_back_where_they_came_from() {
    let v = numbered([5, 4, 3]);
    for (axis, tr, fr, fc) in [
        (2, false, false, false),
        (0, true, false, true),
        (1, true, true, true),
        (2, true, true, false),
    ] {
        let s = cut(&v, axis, 1, tr, fr, fc).unwrap();
        let mut target = v.clone();
        target.data.iter_mut().for_each(|x| *x = -1.0);
        write_back(&s.data, &s.provenance, &mut target).unwrap();
        for (i, (&a, &b)) in target.data.iter().zip(&v.data).enumerate() {
            assert!(
                a == -1.0 || a == b,
                "axis {axis}: voxel {i} got {a}, source {b}"
            );
        }
        assert_eq!(
            target.data.iter().filter(|&&a| a != -1.0).count(),
            s.data.len()
        );
    }
}

#[test]
fn kidney_filter_and_resize_on_the_phantom() {
    let spec = PhantomSpec {
        nx: 64,
        ny: 64,
        nz: 20,
        spacing: [6.0, 6.0, 6.0],
        seed: 3,
        ..PhantomSpec::default()
    };
    let p = patient(&spec, 0);
    let thr = scaled_threshold(32, 6.0);
    assert_eq!(thr, 2);
    let keep = kidney_slices(&p.labels, 2, &[1], thr);
    assert!(!keep.is_empty() && keep.len() < 20, "{keep:?}");
    let s = cut(&p.image, 2, keep[keep.len() / 2], false, false, false).unwrap();
    assert_eq!(s.resized(32, 32).unwrap().len(), 32 * 32);
    let m = cut(&p.labels, 2, keep[keep.len() / 2], false, false, false).unwrap();
    assert!(m
        .resized_mask(128, 128)
        .unwrap()
        .iter()
        .all(|&v| v == 0.0 || v == 1.0));
}

#[test]
fn slice_labels_count_tumour_pixels() {
    // A label volume whose slice 1 (axis 2) holds 5 tumour voxels (id 2) and one cyst (id 3).
    let mut v = numbered([4, 4, 3]);
    v.data.iter_mut().for_each(|x| *x = 0.0);
    for i in 0..5 {
        v.data[16 + i] = 2.0;
    }
    v.data[16 + 6] = 3.0;
    assert_eq!(tumour_label(&v, 2, 1, &[2], 4), 1);
    assert_eq!(
        tumour_label(&v, 2, 1, &[2], 5),
        0,
        "more than the threshold, not equal"
    );
    assert_eq!(tumour_label(&v, 2, 0, &[2], 0), 0);
    assert_eq!(tumour_label(&v, 2, 1, &[2, 3], 5), 1);
}
