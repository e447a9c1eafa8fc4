//! Resampling (src/ops/resample): nearest upsampling and bilinear resizing.

use super::*;

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    // ---- resampling
    c.push(case(
        "upsample nearest x2",
        vec![inp(&[2, 3, 3, 4])],
        true,
        |x| ops::upsample_nearest(&x[0], 2),
    ));
    c.push(case(
        "upsample nearest x3",
        vec![inp(&[1, 2, 2, 3])],
        true,
        |x| ops::upsample_nearest(&x[0], 3),
    ));
    for ac in [true, false] {
        for (h, w, oh, ow) in [(4, 5, 8, 10), (7, 6, 3, 4), (5, 5, 11, 9), (1, 3, 2, 5)] {
            c.push(case(
                &format!("bilinear {h}x{w}->{oh}x{ow} align_corners={ac}"),
                vec![inp(&[2, 2, h, w])],
                true,
                move |x| ops::resize_bilinear(&x[0], oh, ow, ac),
            ));
        }
    }
    tag_fixtures(
        &mut c,
        &[
            ("upsample nearest x2", "upsample_nearest2"),
            (
                "bilinear 4x5->8x10 align_corners=true",
                "bilinear_4x5_8x10_ac1",
            ),
            (
                "bilinear 7x6->3x4 align_corners=true",
                "bilinear_7x6_3x4_ac1",
            ),
            (
                "bilinear 5x5->11x9 align_corners=true",
                "bilinear_5x5_11x9_ac1",
            ),
            (
                "bilinear 4x5->8x10 align_corners=false",
                "bilinear_4x5_8x10_ac0",
            ),
            (
                "bilinear 7x6->3x4 align_corners=false",
                "bilinear_7x6_3x4_ac0",
            ),
            (
                "bilinear 5x5->11x9 align_corners=false",
                "bilinear_5x5_11x9_ac0",
            ),
        ],
    );
    c
}
