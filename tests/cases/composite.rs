//! Compositions the tape must get right across ops (a tensor consumed twice).

use super::*;

pub fn cases() -> Vec<Case> {
    vec![case(
        "consumed twice: skip + conv",
        vec![inp(&[2, 2, 4, 4]), inp(&[2, 2, 3, 3])],
        true,
        |x| {
            let up = ops::upsample_nearest(&x[0], 2)?;
            let up2 = ops::add(&up, &ops::upsample_nearest(&x[0], 2)?)?;
            let conv = ops::conv2d(&up2, &x[1], None, Conv2dParams::new(1, 1))?;
            ops::cat(&[&ops::add(&conv, &up2)?, &ops::mul(&up2, &up)?], 1)
        },
    )]
}
