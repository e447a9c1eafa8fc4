//! Pooling (src/ops/pool): average and max pooling.

use super::*;

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    // ---- pooling and resampling
    c.push(case("avg_pool2d 2", vec![inp(&[2, 3, 6, 8])], true, |x| {
        ops::avg_pool2d(&x[0], 2)
    }));
    c.push(case(
        "avg_pool2d 2 odd",
        vec![inp(&[1, 2, 5, 7])],
        true,
        |x| ops::avg_pool2d(&x[0], 2),
    ));
    c.push(case(
        "max_pool2d 3 s2 p1",
        vec![inp(&[2, 3, 7, 8])],
        false,
        |x| ops::max_pool2d(&x[0], 3, 2, 1),
    ));
    tag_fixtures(
        &mut c,
        &[
            ("avg_pool2d 2", "avg_pool2d"),
            ("max_pool2d 3 s2 p1", "max_pool2d_3_2_1"),
        ],
    );
    c
}
