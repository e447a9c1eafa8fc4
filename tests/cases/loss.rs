//! Losses (src/ops/loss).

use super::*;

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    // ---- losses
    c.push(case(
        "bce_with_logits",
        vec![inp(&[6, 1]), prob(&[6, 1])],
        true,
        |x| ops::loss::bce_with_logits(&x[0], &x[1]),
    ));
    c.push(case(
        "kl_bernoulli",
        vec![prob(&[5, 1]), prob(&[5, 1])],
        true,
        |x| ops::loss::kl_bernoulli(&x[0], &x[1]),
    ));
    c.push(case(
        "l1",
        vec![inp(&[2, 1, 4, 4]), inp(&[2, 1, 4, 4])],
        true,
        |x| ops::loss::l1(&x[0], &x[1]),
    ));
    c.push(case(
        "mse",
        vec![inp(&[2, 1, 4, 4]), inp(&[2, 1, 4, 4])],
        true,
        |x| ops::loss::mse(&x[0], &x[1]),
    ));
    c.push(case(
        "carl",
        vec![
            inp(&[3, 1, 4, 5]),
            inp(&[3, 1, 4, 5]),
            Input {
                shape: vec![3, 2, 4, 5],
                lo: -1.0,
                hi: 1.0,
                grad: false,
            },
        ],
        true,
        // The third input becomes two 0/1 region masks (about half of each plane).
        |x| ops::loss::carl(&x[0], &x[1], &ops::at_least(&x[2], 0.0)?),
    ));
    c.push(case("tv_squared", vec![inp(&[2, 1, 5, 6])], true, |x| {
        ops::loss::tv_squared(&x[0])
    }));
    c.push(case(
        "coin_tv",
        vec![inp(&[2, 1, 5, 6]), inp(&[2, 1, 5, 6])],
        true,
        |x| ops::loss::coin_tv(&x[0], &x[1]),
    ));
    tag_fixtures(
        &mut c,
        &[
            ("bce_with_logits", "bce_with_logits"),
            ("kl_bernoulli", "kl_bernoulli"),
            ("l1", "l1"),
            ("mse", "mse"),
            ("tv_squared", "tv_squared"),
            ("coin_tv", "coin_tv"),
        ],
    );
    c
}
