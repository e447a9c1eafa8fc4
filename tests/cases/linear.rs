//! Matrix products (src/ops/linear): matmul and linear.

use super::*;

pub fn cases() -> Vec<Case> {
    let mut c = vec![
        case("matmul", vec![inp(&[3, 5]), inp(&[5, 4])], true, |x| {
            ops::matmul(&x[0], &x[1])
        }),
        case(
            "linear bias",
            vec![inp(&[4, 6]), inp(&[3, 6]), inp(&[3])],
            true,
            |x| ops::linear(&x[0], &x[1], Some(&x[2])),
        ),
        case(
            "linear no bias",
            vec![inp(&[4, 6]), inp(&[1, 6])],
            true,
            |x| ops::linear(&x[0], &x[1], None),
        ),
        // One row (the spectral norm's power iteration): the GEMV kernel.
        case(
            "matmul row vector",
            vec![inp(&[1, 37]), inp(&[37, 50])],
            true,
            |x| ops::matmul(&x[0], &x[1]),
        ),
        case(
            "linear one row",
            vec![inp(&[1, 37]), inp(&[50, 37]), inp(&[50])],
            true,
            |x| ops::linear(&x[0], &x[1], Some(&x[2])),
        ),
    ];
    tag_fixtures(&mut c, &[("linear bias", "linear")]);
    c
}
