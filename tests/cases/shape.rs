//! Shape ops (src/ops/shape): reshape, narrow (views and copies), cat, split.

use super::*;

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    // ---- shape
    c.push(case("reshape", vec![inp(&[2, 3, 4])], false, |x| {
        ops::reshape(&x[0], &[6, 4])
    }));
    c.push(case(
        "narrow axis 0 (view)",
        vec![inp(&[4, 3, 2])],
        false,
        |x| ops::narrow(&x[0], 0, 1, 2),
    ));
    c.push(case("narrow axis 1", vec![inp(&[2, 5, 3])], false, |x| {
        ops::narrow(&x[0], 1, 1, 3)
    }));
    c.push(case(
        "narrow axis 3",
        vec![inp(&[2, 3, 4, 5])],
        false,
        |x| ops::narrow(&x[0], 3, 2, 3),
    ));
    c.push(case(
        "cat channels",
        vec![inp(&[2, 3, 4, 4]), inp(&[2, 2, 4, 4])],
        false,
        |x| ops::cat(&[&x[0], &x[1]], 1),
    ));
    c.push(case(
        "cat batch",
        vec![inp(&[2, 3, 4]), inp(&[1, 3, 4])],
        false,
        |x| ops::cat(&[&x[0], &x[1]], 0),
    ));
    c.push(case(
        "split channels",
        vec![inp(&[2, 5, 3, 3])],
        false,
        |x| {
            let p = ops::split(&x[0], &[2, 3], 1)?;
            ops::add(&ops::mul_scalar(&p[0], 2.0)?, &ops::narrow(&p[1], 1, 0, 2)?)
        },
    ));
    c
}
