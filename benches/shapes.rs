// The benchmark shapes, shared by benches/ops.rs and scripts/bench-pytorch.py (which parses the
// tables below). CPU scale: 128×128 input, channel widths ×0.25 of the paper's networks
// (the per-pass shapes of the paper's configuration), batch 8; plus a few at 64×64.

/// (name, batch, cin, cout, h, w, kernel, stride, padding, bias)
pub type ConvShape = (
    &'static str,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    bool,
);

#[rustfmt::skip]
pub const CONVS: &[ConvShape] = &[
    ("enc_stem_1to16_128", 8, 1, 16, 128, 128, 3, 1, 1, false),
    ("disc_b0_16to16_128", 8, 16, 16, 128, 128, 3, 1, 1, true),
    ("gen_b4_48to16_128", 8, 48, 16, 128, 128, 3, 1, 1, false),
    ("gen_b4_skip1x1_48to16_128", 8, 48, 16, 128, 128, 1, 1, 0, false),
    ("gen_out_16to1_128", 8, 16, 1, 128, 128, 3, 1, 1, true),
    ("gen_b3_96to32_64", 8, 96, 32, 64, 64, 3, 1, 1, false),
    ("gen_b2_192to64_32", 8, 192, 64, 32, 32, 3, 1, 1, false),
    ("gen_b1_384to128_16", 8, 384, 128, 16, 16, 3, 1, 1, false),
    ("gen_b0_256to256_8", 8, 256, 256, 8, 8, 3, 1, 1, false),
    ("resnet_stem7x7s2_1to16_128", 8, 1, 16, 128, 128, 7, 2, 3, false),
    ("gen_b4_48to16_64", 8, 48, 16, 64, 64, 3, 1, 1, false),
    ("disc_b0_16to16_64", 8, 16, 16, 64, 64, 3, 1, 1, true),
];

/// (name, n, c, h, w) for the memory-bound ops.
#[rustfmt::skip]
pub const PLANES: &[(&str, usize, usize, usize, usize)] = &[
    ("16x128", 8, 16, 128, 128),
    ("48x64", 8, 48, 64, 64),
];
