//! The op × shape table every backend test runs (the idea of ggml's test-backend-ops): each case
//! names an op, its inputs (shape, value range, whether a gradient is checked) and a closure.

use coin::ops::{self, Conv2dParams};
use coin::{DType, Result, Tensor};

pub struct Input {
    pub shape: Vec<usize>,
    pub lo: f64,
    pub hi: f64,
    pub grad: bool,
}

fn inp(shape: &[usize]) -> Input {
    Input {
        shape: shape.to_vec(),
        lo: -2.0,
        hi: 2.0,
        grad: true,
    }
}
fn pos(shape: &[usize]) -> Input {
    Input {
        shape: shape.to_vec(),
        lo: 0.5,
        hi: 2.0,
        grad: true,
    }
}
fn prob(shape: &[usize]) -> Input {
    Input {
        shape: shape.to_vec(),
        lo: 0.02,
        hi: 0.98,
        grad: true,
    }
}

pub type OpFn = Box<dyn Fn(&[Tensor]) -> Result<Tensor>>;

pub struct Case {
    pub name: String,
    pub inputs: Vec<Input>,
    pub f: OpFn,
    /// Reductions and convolutions sum in different orders on each backend.
    pub reduction: bool,
    /// Small enough for finite differences (large cases only run CPU vs reference).
    pub gradcheck: bool,
}

fn case(
    name: &str,
    inputs: Vec<Input>,
    reduction: bool,
    f: impl Fn(&[Tensor]) -> Result<Tensor> + 'static,
) -> Case {
    Case {
        name: name.to_string(),
        inputs,
        f: Box::new(f),
        reduction,
        gradcheck: true,
    }
}

fn ids(like: &Tensor, v: &[i64]) -> Tensor {
    Tensor::from_i64(v.to_vec(), [v.len()], like.device()).unwrap()
}

pub fn all_cases() -> Vec<Case> {
    let mut c = Vec::new();
    // ---- unary
    let s = [2, 3, 4, 5];
    c.push(case("relu", vec![inp(&s)], false, |x| ops::relu(&x[0])));
    c.push(case("tanh", vec![inp(&s)], false, |x| ops::tanh(&x[0])));
    c.push(case("sigmoid", vec![inp(&s)], false, |x| {
        ops::sigmoid(&x[0])
    }));
    c.push(case(
        "softplus",
        vec![Input {
            shape: vec![3, 7],
            lo: -25.0,
            hi: 25.0,
            grad: true,
        }],
        false,
        |x| ops::softplus(&x[0]),
    ));
    c.push(case("abs", vec![inp(&s)], false, |x| ops::abs(&x[0])));
    c.push(case("square", vec![inp(&s)], false, |x| ops::square(&x[0])));
    c.push(case("exp", vec![inp(&s)], false, |x| ops::exp(&x[0])));
    c.push(case("log", vec![pos(&s)], false, |x| ops::log(&x[0])));
    c.push(case("sqrt", vec![pos(&s)], false, |x| ops::sqrt(&x[0])));
    c.push(case("neg", vec![inp(&s)], false, |x| ops::neg(&x[0])));
    c.push(case("clamp", vec![inp(&s)], false, |x| {
        ops::clamp(&x[0], -0.7, 0.9)
    }));
    c.push(case("add_scalar", vec![inp(&[5])], false, |x| {
        ops::add_scalar(&x[0], 1.5)
    }));
    c.push(case("mul_scalar", vec![inp(&[5])], false, |x| {
        ops::mul_scalar(&x[0], -2.5)
    }));
    // ---- binary with broadcasting
    for (a, b) in [
        (vec![2, 3, 4, 5], vec![2, 3, 4, 5]),
        (vec![2, 3, 4, 5], vec![1, 3, 1, 1]),
        (vec![2, 3, 1, 1], vec![2, 3, 4, 5]),
        (vec![3, 1, 5], vec![4, 1]),
        (vec![2, 3, 4, 5], vec![]),
        (vec![5], vec![2, 3, 4, 5]),
    ] {
        let tag = format!("{a:?}x{b:?}");
        c.push(case(
            &format!("add {tag}"),
            vec![inp(&a), inp(&b)],
            true,
            |x| ops::add(&x[0], &x[1]),
        ));
        c.push(case(
            &format!("sub {tag}"),
            vec![inp(&a), inp(&b)],
            true,
            |x| ops::sub(&x[0], &x[1]),
        ));
        c.push(case(
            &format!("mul {tag}"),
            vec![inp(&a), inp(&b)],
            true,
            |x| ops::mul(&x[0], &x[1]),
        ));
        c.push(case(
            &format!("div {tag}"),
            vec![inp(&a), pos(&b)],
            true,
            |x| ops::div(&x[0], &x[1]),
        ));
        c.push(case(
            &format!("maximum {tag}"),
            vec![inp(&a), inp(&b)],
            true,
            |x| ops::maximum(&x[0], &x[1]),
        ));
        c.push(case(
            &format!("minimum {tag}"),
            vec![inp(&a), inp(&b)],
            true,
            |x| ops::minimum(&x[0], &x[1]),
        ));
    }
    let mask_only = Input {
        grad: false,
        ..inp(&[2, 3, 4])
    };
    c.push(case(
        "where(gt)",
        vec![mask_only, inp(&[2, 3, 4]), inp(&[1, 3, 1])],
        true,
        |x| {
            let m = ops::gt(
                &x[0].detach(),
                &Tensor::zeros([1], x[0].dtype(), x[0].device()),
            )?;
            ops::where_(&m, &x[1], &x[2])
        },
    ));
    // Every operand at the output's shape (the CPU's parallel where) and a comparison that
    // broadcasts both sides.
    c.push(case(
        "where(le) full shapes",
        vec![inp(&[2, 3, 5]), inp(&[2, 3, 5]), inp(&[2, 3, 5])],
        true,
        |x| {
            let m = ops::le(&x[0].detach(), &x[1].detach())?;
            let b = ops::lt(&x[0].detach(), &ops::sum(&x[2].detach(), &[0], true)?)?;
            let picked = ops::where_(&m, &x[1], &x[2])?;
            ops::where_(&b, &picked, &x[0])
        },
    ));
    // ---- reductions
    c.push(case("sum all", vec![inp(&[3, 4, 5])], true, |x| {
        ops::sum_all(&x[0])
    }));
    c.push(case("mean all", vec![inp(&[3, 4, 5])], true, |x| {
        ops::mean_all(&x[0])
    }));
    c.push(case(
        "sum per channel",
        vec![inp(&[2, 3, 4, 5])],
        true,
        |x| ops::sum(&x[0], &[0, 2, 3], false),
    ));
    c.push(case(
        "sum per sample keepdim",
        vec![inp(&[2, 3, 4, 5])],
        true,
        |x| ops::sum(&x[0], &[1, 2, 3], true),
    ));
    c.push(case("mean axis 1", vec![inp(&[2, 3, 4, 5])], true, |x| {
        ops::mean(&x[0], &[1], false)
    }));
    c.push(case(
        "global sum pool",
        vec![inp(&[2, 3, 4, 5])],
        true,
        |x| ops::sum(&x[0], &[2, 3], false),
    ));
    c.push(case("mean axis -1", vec![inp(&[2, 3, 7])], true, |x| {
        ops::mean(&x[0], &[-1], true)
    }));
    c.push(case("broadcast_to", vec![inp(&[3, 1, 5])], true, |x| {
        ops::broadcast_to(&x[0], &coin::Shape::new(&[2, 3, 4, 5]))
    }));
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
    // Over 8192 pixels with 16+ output channels: the banded channel-vector weight gradient.
    let mut big = case(
        "conv 3x3 banded channel-vector wgrad",
        vec![inp(&[1, 3, 92, 92]), inp(&[16, 3, 3, 3])],
        true,
        |x| ops::conv2d(&x[0], &x[1], None, Conv2dParams::new(1, 1)),
    );
    big.gradcheck = false;
    c.push(big);
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
    // ---- batch norm
    c.push(case(
        "batch_norm train affine",
        vec![inp(&[3, 4, 3, 5]), inp(&[4]), inp(&[4])],
        true,
        |x| {
            let mut st = bn_state(&x[0], 4);
            ops::batch_norm(
                &x[0],
                ops::Affine {
                    gamma: Some(&x[1]),
                    beta: Some(&x[2]),
                },
                ops::BnMode::Train {
                    state: Some(&mut st),
                    momentum: 0.1,
                },
                1e-5,
            )
        },
    ));
    c.push(case(
        "batch_norm train plain",
        vec![inp(&[2, 3, 4, 4])],
        true,
        |x| {
            ops::batch_norm(
                &x[0],
                ops::Affine::NONE,
                ops::BnMode::Train {
                    state: None,
                    momentum: 0.1,
                },
                1e-5,
            )
        },
    ));
    c.push(case(
        "batch_norm eval affine",
        vec![inp(&[2, 3, 4, 4]), inp(&[3]), inp(&[3])],
        true,
        |x| {
            let mut st = bn_state(&x[0], 3);
            st.running_mean =
                Tensor::from_f64_as(&[0.1, -0.2, 0.3], [3], x[0].dtype(), x[0].device())?;
            st.running_var =
                Tensor::from_f64_as(&[0.5, 1.5, 2.0], [3], x[0].dtype(), x[0].device())?;
            ops::batch_norm(
                &x[0],
                ops::Affine {
                    gamma: Some(&x[1]),
                    beta: Some(&x[2]),
                },
                ops::BnMode::Eval { state: &st },
                1e-3,
            )
        },
    ));
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
    // ---- linear and embedding
    c.push(case(
        "matmul",
        vec![inp(&[3, 5]), inp(&[5, 4])],
        true,
        |x| ops::matmul(&x[0], &x[1]),
    ));
    c.push(case(
        "linear bias",
        vec![inp(&[4, 6]), inp(&[3, 6]), inp(&[3])],
        true,
        |x| ops::linear(&x[0], &x[1], Some(&x[2])),
    ));
    c.push(case(
        "linear no bias",
        vec![inp(&[4, 6]), inp(&[1, 6])],
        true,
        |x| ops::linear(&x[0], &x[1], None),
    ));
    c.push(case(
        "embedding (repeated ids)",
        vec![inp(&[3, 4])],
        true,
        |x| ops::embedding(&ids(&x[0], &[2, 0, 2, 1, 2]), &x[0]),
    ));
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
    c.push(case("tv_squared", vec![inp(&[2, 1, 5, 6])], true, |x| {
        ops::loss::tv_squared(&x[0])
    }));
    c.push(case(
        "coin_tv",
        vec![inp(&[2, 1, 5, 6]), inp(&[2, 1, 5, 6])],
        true,
        |x| ops::loss::coin_tv(&x[0], &x[1]),
    ));
    // ---- a tensor consumed twice (U-Net skip: the same feature feeds two branches)
    c.push(case(
        "consumed twice: skip + conv",
        vec![inp(&[2, 2, 4, 4]), inp(&[2, 2, 3, 3])],
        true,
        |x| {
            let up = ops::upsample_nearest(&x[0], 2)?;
            let up2 = ops::add(&up, &ops::upsample_nearest(&x[0], 2)?)?;
            let conv = ops::conv2d(&up2, &x[1], None, Conv2dParams::new(1, 1))?;
            ops::cat(&[&ops::add(&conv, &up2)?, &ops::mul(&up2, &up)?], 1)
        },
    ));
    c
}

pub fn bn_state(x: &Tensor, c: usize) -> ops::BatchNormState {
    ops::BatchNormState {
        running_mean: Tensor::zeros([c], x.dtype(), x.device()),
        running_var: Tensor::ones([c], x.dtype(), x.device()),
        num_batches_tracked: 0,
    }
}

pub fn make_inputs(case: &Case, seed: u64, dtype: DType, dev: coin::Device) -> Vec<Tensor> {
    let mut rng = coin::rng::Rng::new(seed);
    case.inputs
        .iter()
        .map(|i| crate::common::uniform(&mut rng, &i.shape, i.lo, i.hi, dtype, dev))
        .collect()
}
