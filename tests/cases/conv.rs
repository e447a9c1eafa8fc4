//! Convolution (src/ops/conv): kernel sizes, strides, paddings, bias, the CPU kernels' special shapes.

use super::*;

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    // ---- convolution
    type ConvCase = (&'static str, [usize; 4], [usize; 4], usize, usize, bool);
    #[rustfmt::skip]
    let conv_cases: Vec<ConvCase> = vec![
        ("conv 3x3 s1 p1 bias", [2, 3, 6, 5], [4, 3, 3, 3], 1, 1, true),
        ("conv 3x3 s2 p1 odd", [2, 3, 7, 9], [5, 3, 3, 3], 2, 1, false),
        ("conv 1x1", [3, 4, 5, 5], [6, 4, 1, 1], 1, 0, false),
        ("conv 1x1 s2", [2, 4, 5, 6], [3, 4, 1, 1], 2, 0, true),
        ("conv 7x7 s2 p3", [1, 1, 11, 13], [4, 1, 7, 7], 2, 3, false),
        ("conv 3x3 cin1 bias", [3, 1, 8, 8], [4, 1, 3, 3], 1, 1, true),
        ("conv 3x3 p0", [2, 2, 5, 5], [3, 2, 3, 3], 1, 0, true),
        // Rows of 12+ outputs take the direct CPU kernels: partial channel blocks, tails, 1 vector
        // (two rows per tile), 2 and 4 vectors per tile, Cout = 1, 1×1, 5×5.
        ("direct 3x3 p1 cout5 w20", [2, 3, 9, 20], [5, 3, 3, 3], 1, 1, true),
        ("direct 3x3 p0 w40", [1, 2, 4, 42], [4, 2, 3, 3], 1, 0, false),
        ("direct 3x3 cout1 w13", [2, 4, 5, 13], [1, 4, 3, 3], 1, 1, true),
        ("direct 1x1 cout3 w33", [2, 6, 3, 33], [3, 6, 1, 1], 1, 0, false),
        ("direct 5x5 p2 w14", [1, 2, 6, 14], [4, 2, 5, 5], 1, 2, false),
        ("direct 3x3 w70", [1, 1, 3, 70], [8, 1, 3, 3], 1, 1, false),
        // Planes over 1024 outputs: the banded backward-weight tasks (1×1 with input channels in
        // fours and a remainder).
        ("direct 3x3 large map", [1, 2, 34, 40], [5, 2, 3, 3], 1, 1, true),
        ("direct 1x1 large map", [2, 6, 20, 60], [2, 6, 1, 1], 1, 0, false),
        // 16+ output channels: the channel-vector backward-weight kernel (one and two vectors,
        // partial tap tiles, padded channels, 5×5).
        ("direct 3x3 cout16 wgrad outer", [1, 4, 4, 16], [16, 4, 3, 3], 1, 1, false),
        ("direct 3x3 cout20 wgrad outer", [2, 3, 5, 14], [20, 3, 3, 3], 1, 1, true),
        ("direct 5x5 cout17 wgrad outer", [1, 2, 6, 13], [17, 2, 5, 5], 1, 2, false),
        // Strided convolutions rewritten as stride-1 over phase planes (and cropped).
        ("phases 3x3 s2 p1", [2, 3, 9, 26], [5, 3, 3, 3], 2, 1, true),
        ("phases 7x7 s2 p3 stem", [1, 1, 12, 30], [16, 1, 7, 7], 2, 3, false),
        ("phases 1x1 s2", [2, 4, 5, 27], [3, 4, 1, 1], 2, 0, true),
        ("phases 2x2 s2 crop", [1, 2, 7, 27], [3, 2, 2, 2], 2, 0, true),
        // The GPU's thin-layer kernels (Cout = 1 up to 7×7 and strided; Cin = 1 backward-data is
        // "conv 7x7 s2 p3" and "conv 3x3 cin1 bias") and split-K GEMMs for maps whose tiles
        // would leave the GPU idle (K = 144: three splits forward and backward-data); a weight
        // gradient of K = 16, one split written straight into the gradient.
        ("gpu cout1 7x7 s2 p3", [1, 3, 12, 11], [1, 3, 7, 7], 2, 3, true),
        ("gpu split-K 8x8", [2, 16, 8, 8], [16, 16, 3, 3], 1, 1, true),
        ("gpu wgrad one split", [1, 3, 4, 4], [5, 3, 3, 3], 1, 1, false),
        // Unpadded 1×1 whose rows fill whole tiles: the kernels read the tensors in place.
        ("direct 1x1 in place w32", [2, 5, 3, 32], [6, 5, 1, 1], 1, 0, true),
        ("direct 1x1 in place large map", [1, 5, 20, 64], [3, 5, 1, 1], 1, 0, false),
    ];
    for (name, xs, ws, st, pd, bias) in conv_cases {
        let mut inputs = vec![inp(&xs), inp(&ws)];
        if bias {
            inputs.push(inp(&[ws[0]]));
        }
        c.push(case(name, inputs, true, move |x| {
            ops::conv2d(&x[0], &x[1], x.get(2), Conv2dParams::new(st, pd))
        }));
    }
    // The split-K case is large for a finite-difference check; its shape adds nothing to one.
    for x in c.iter_mut().filter(|x| x.name == "gpu split-K 8x8") {
        x.gradcheck = false;
    }
    // Over 8192 pixels with 16+ output channels: the banded channel-vector weight gradient.
    let mut big = case(
        "conv 3x3 banded channel-vector wgrad",
        vec![inp(&[1, 3, 92, 92]), inp(&[16, 3, 3, 3])],
        true,
        |x| ops::conv2d(&x[0], &x[1], None, Conv2dParams::new(1, 1)),
    );
    big.gradcheck = false;
    c.push(big);
    // Inputs whose padded rows are wide enough that a task takes a band of output rows, not the
    // whole map (the last band partial): forward with 48 input channels, backward-data with 72.
    // Too large for a finite-difference check, as are the next two, whose shapes add nothing to
    // one.
    for (name, xs, ws) in [
        (
            "direct 3x3 row bands forward",
            [1, 48, 50, 100],
            [5, 48, 3, 3],
        ),
        (
            "direct 3x3 row bands backward-data",
            [1, 4, 50, 100],
            [72, 4, 3, 3],
        ),
        // 48+ output channels on rows of one and two vectors: six-channel tiles on Intel.
        ("direct 3x3 cout50 w20", [1, 3, 4, 20], [50, 3, 3, 3]),
        ("direct 3x3 cout50 w13", [2, 3, 5, 13], [50, 3, 3, 3]),
    ] {
        let mut banded = case(name, vec![inp(&xs), inp(&ws), inp(&[ws[0]])], true, |x| {
            ops::conv2d(&x[0], &x[1], x.get(2), Conv2dParams::new(1, 1))
        });
        banded.gradcheck = false;
        c.push(banded);
    }
    c.push(case(
        "conv rect kernel stride (2,1)",
        vec![inp(&[2, 2, 6, 7]), inp(&[3, 2, 2, 3])],
        true,
        |x| {
            ops::conv2d(
                &x[0],
                &x[1],
                None,
                Conv2dParams {
                    stride: (2, 1),
                    padding: (1, 0),
                },
            )
        },
    ));
    tag_fixtures(
        &mut c,
        &[
            ("conv 3x3 s1 p1 bias", "conv3x3_s1_p1_bias"),
            ("conv 3x3 s2 p1 odd", "conv3x3_s2_p1_odd"),
            ("conv 1x1", "conv1x1"),
            ("conv 1x1 s2", "conv1x1_s2_bias"),
            ("conv 7x7 s2 p3", "conv7x7_s2_p3"),
            ("conv 3x3 cin1 bias", "conv3x3_cin1"),
        ],
    );
    c
}
