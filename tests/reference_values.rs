//! Layer 1: reference ops against values worked out by hand.

use crate::common::{assert_close, Tol};
use coin::ops::{self, Conv2dParams};
use coin::{DType, Device, Tensor};

const EXACT: Tol = Tol {
    atol: 1e-12,
    rtol: 1e-12,
};

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_f64(v.to_vec(), shape.to_vec(), Device::Reference).unwrap()
}

#[test]
fn conv2d_by_hand() {
    // 1×1×3×3 input 1..9, 2×2 kernel [[1,0],[0,-1]], padding 0 → x[i][j] − x[i+1][j+1] = −4.
    let x = t(&[1., 2., 3., 4., 5., 6., 7., 8., 9.], &[1, 1, 3, 3]);
    let w = t(&[1., 0., 0., -1.], &[1, 1, 2, 2]);
    let b = t(&[0.5], &[1]);
    let y = ops::conv2d(&x, &w, Some(&b), Conv2dParams::default()).unwrap();
    assert_close("conv", &y, &t(&[-3.5; 4], &[1, 1, 2, 2]), EXACT);
    // stride 2, padding 1, all-ones 3×3 kernel: sums of the 3×3 windows centred at (0,0),(0,2),(2,0),(2,2).
    let w = t(&[1.0; 9], &[1, 1, 3, 3]);
    let y = ops::conv2d(&x, &w, None, Conv2dParams::new(2, 1)).unwrap();
    assert_close(
        "conv s2 p1",
        &y,
        &t(&[12., 16., 24., 28.], &[1, 1, 2, 2]),
        EXACT,
    );
}

#[test]
fn pools_by_hand() {
    let x = t(
        &(1..=16).map(|v| v as f64).collect::<Vec<_>>(),
        &[1, 1, 4, 4],
    );
    let a = ops::avg_pool2d(&x, 2).unwrap();
    assert_close("avg", &a, &t(&[3.5, 5.5, 11.5, 13.5], &[1, 1, 2, 2]), EXACT);
    let m = ops::max_pool2d(&x, 3, 2, 1).unwrap();
    assert_close("max", &m, &t(&[6., 8., 14., 16.], &[1, 1, 2, 2]), EXACT);
}

#[test]
fn resampling_by_hand() {
    let x = t(&[1., 2., 3., 4.], &[1, 1, 2, 2]);
    let n = ops::upsample_nearest(&x, 2).unwrap();
    assert_eq!(
        n.to_vec_f64(),
        vec![1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]
    );
    // align_corners=True, 2→3: the middle sample is the average of its neighbours.
    let b = ops::resize_bilinear(&x, 3, 3, true).unwrap();
    assert_close(
        "bilinear ac",
        &b,
        &t(&[1., 1.5, 2., 2., 2.5, 3., 3., 3.5, 4.], &[1, 1, 3, 3]),
        EXACT,
    );
    // align_corners=False, 2→4: PyTorch gives [1, 1.25, 1.75, 2] along a row.
    let r = t(&[1., 2.], &[1, 1, 1, 2]);
    let b = ops::resize_bilinear(&r, 1, 4, false).unwrap();
    assert_close(
        "bilinear",
        &b,
        &t(&[1., 1.25, 1.75, 2.], &[1, 1, 1, 4]),
        EXACT,
    );
}

#[test]
fn batch_norm_by_hand() {
    // One channel, values 1..4: mean 2.5, biased var 1.25, unbiased var 5/3.
    let x = t(&[1., 2., 3., 4.], &[1, 1, 2, 2]);
    let mut st = crate::cases::bn_state(&x, 1);
    let y = ops::batch_norm(
        &x,
        ops::Affine::NONE,
        ops::BnMode::Train {
            state: Some(&mut st),
            momentum: 0.1,
        },
        0.0001,
    )
    .unwrap();
    let s = (1.25f64 + 1e-4).sqrt();
    assert_close(
        "bn",
        &y,
        &t(&[-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], &[1, 1, 2, 2]),
        Tol {
            atol: 1e-12,
            rtol: 1e-9,
        },
    );
    assert_close("running mean", &st.running_mean, &t(&[0.25], &[1]), EXACT);
    assert_close(
        "running var",
        &st.running_var,
        &t(&[0.9 + 0.1 * 5.0 / 3.0], &[1]),
        EXACT,
    );
    assert_eq!(st.num_batches_tracked, 1);
}

#[test]
fn losses_by_hand() {
    // BCE with logits at z = 0 is ln 2 whatever the target.
    let z = t(&[0.0, 0.0], &[2, 1]);
    let y = t(&[1.0, 0.0], &[2, 1]);
    let l = ops::loss::bce_with_logits(&z, &y)
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!((l - 2f64.ln()).abs() < 1e-15);
    // Large logits stay finite (stable form).
    let z = t(&[1000.0, -1000.0], &[2, 1]);
    let l = ops::loss::bce_with_logits(&z, &y)
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!(l.abs() < 1e-12, "{l}");
    // KL of equal distributions is 0; KL(1e-6‖0.5) uses the clamp at 1e-5.
    let p = t(&[0.3], &[1, 1]);
    assert!(
        ops::loss::kl_bernoulli(&p, &p)
            .unwrap()
            .to_scalar()
            .unwrap()
            .abs()
            < 1e-15
    );
    let e = 1e-5f64;
    let want = e * (e / 0.5).ln() + (1.0 - e) * ((1.0 - e) / 0.5).ln();
    let got = ops::loss::kl_bernoulli(&t(&[1e-6], &[1, 1]), &t(&[0.5], &[1, 1]))
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!((got - want).abs() < 1e-15);
    // TV of a horizontal ramp 0,1,2 in one row pair: dw² mean 1, dh² mean 0.
    let img = t(&[0., 1., 2., 0., 1., 2.], &[1, 1, 2, 3]);
    assert_eq!(
        ops::loss::tv_squared(&img).unwrap().to_scalar().unwrap(),
        1.0
    );
}

#[test]
fn broadcasting_by_hand() {
    let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
    let b = t(&[10., 20., 30.], &[3]);
    assert_eq!(
        ops::add(&a, &b).unwrap().to_vec_f64(),
        vec![11., 22., 33., 14., 25., 36.]
    );
    let c = t(&[100., 200.], &[2, 1]);
    assert_eq!(
        ops::mul(&a, &c).unwrap().to_vec_f64(),
        vec![100., 200., 300., 800., 1000., 1200.]
    );
    let m = ops::gt(&a, &t(&[3.0], &[1])).unwrap();
    assert_eq!(m.dtype(), DType::U8);
    assert_eq!(m.to_vec_f64(), vec![0., 0., 0., 1., 1., 1.]);
}

#[test]
fn nan_propagates_through_ops() {
    let x = t(&[f64::NAN, 1.0], &[1, 1, 1, 2]);
    for y in [
        ops::relu(&x).unwrap(),
        ops::clamp(&x, -1.0, 1.0).unwrap(),
        ops::maximum(&x, &t(&[0.0], &[1])).unwrap(),
        ops::max_pool2d(&x, 1, 1, 0).unwrap(),
    ] {
        assert!(y.to_vec_f64()[0].is_nan(), "NaN lost in {y:?}");
    }
    let s = ops::sum_all(&x).unwrap();
    let e = s.finite_scalar("loss_G").unwrap_err().to_string();
    assert!(e.contains("loss_G"), "{e}");
}
