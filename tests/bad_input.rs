//! Bad input: every misuse is an `Err` whose message names the problem, never a panic.

use coin::ops::{self, Conv2dParams};
use coin::{DType, Device, Tensor};

fn z(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape.to_vec(), DType::F32, Device::Cpu)
}

fn err_contains(r: coin::Result<Tensor>, needle: &str) {
    match r {
        Ok(t) => panic!("expected an error containing '{needle}', got {t:?}"),
        Err(e) => assert!(
            e.to_string().contains(needle),
            "error '{e}' lacks '{needle}'"
        ),
    }
}

#[test]
fn shape_errors_name_both_shapes() {
    err_contains(ops::add(&z(&[2, 3]), &z(&[4])), "[2, 3] and [4]");
    err_contains(
        ops::conv2d(
            &z(&[1, 3, 8, 8]),
            &z(&[4, 2, 3, 3]),
            None,
            Conv2dParams::new(1, 1),
        ),
        "expects 2",
    );
    err_contains(
        ops::conv2d(
            &z(&[3, 8, 8]),
            &z(&[4, 3, 3, 3]),
            None,
            Conv2dParams::new(1, 1),
        ),
        "NCHW",
    );
    err_contains(
        ops::conv2d(
            &z(&[1, 1, 2, 2]),
            &z(&[1, 1, 5, 5]),
            None,
            Conv2dParams::new(1, 0),
        ),
        "larger than",
    );
    err_contains(
        ops::conv2d(
            &z(&[1, 1, 4, 4]),
            &z(&[1, 1, 3, 3]),
            Some(&z(&[2])),
            Conv2dParams::new(1, 1),
        ),
        "bias",
    );
    err_contains(ops::matmul(&z(&[2, 3]), &z(&[4, 5])), "inner dimensions");
    err_contains(ops::linear(&z(&[2, 3]), &z(&[4, 5]), None), "features");
    err_contains(
        ops::cat(&[&z(&[1, 2, 3]), &z(&[1, 3, 4])], 1),
        "differ off that axis",
    );
    err_contains(ops::narrow(&z(&[2, 3]), 1, 2, 2), "outside axis");
    err_contains(ops::reshape(&z(&[2, 3]), &[4, 2]), "6 elements");
    err_contains(
        ops::batch_norm(
            &z(&[2, 3, 4, 4]),
            ops::Affine {
                gamma: Some(&z(&[4])),
                beta: None,
            },
            ops::BnMode::Train {
                state: None,
                momentum: 0.1,
            },
            1e-5,
        ),
        "[3]",
    );
    err_contains(
        ops::batch_norm(
            &z(&[1, 3, 1, 1]),
            ops::Affine::NONE,
            ops::BnMode::Train {
                state: None,
                momentum: 0.1,
            },
            1e-5,
        ),
        "more than one value",
    );
    // Evaluation mode takes its running statistics by type; mis-sized ones are refused.
    let short = ops::BatchNormState {
        running_mean: z(&[2]),
        running_var: z(&[2]),
        num_batches_tracked: 0,
    };
    err_contains(
        ops::batch_norm(
            &z(&[2, 3, 4, 4]),
            ops::Affine::NONE,
            ops::BnMode::Eval { state: &short },
            1e-5,
        ),
        "running statistics",
    );
    err_contains(ops::avg_pool2d(&z(&[1, 1, 1, 1]), 2), "does not fit");
    err_contains(ops::loss::l1(&z(&[2, 1]), &z(&[2])), "differ");
    err_contains(ops::sum(&z(&[2, 3]), &[2], false), "out of range");
}

#[test]
fn zero_sized_and_wrong_dtype_inputs() {
    err_contains(ops::relu(&z(&[0, 3])), "empty");
    err_contains(
        ops::conv2d(
            &z(&[0, 1, 4, 4]),
            &z(&[1, 1, 3, 3]),
            None,
            Conv2dParams::new(1, 1),
        ),
        "empty",
    );
    let ids = Tensor::from_i64(vec![0, 1], [2], Device::Cpu).unwrap();
    err_contains(ops::relu(&ids), "float");
    // Ids are i64 or class indices held as floats; a u8 mask is neither.
    let mask_ids = Tensor::from_u8(vec![0, 1], [2], Device::Cpu).unwrap();
    err_contains(ops::embedding(&mask_ids, &z(&[3, 4])), "i64");
    let half = Tensor::from_f32(vec![0.5, 1.0], [2], Device::Cpu).unwrap();
    err_contains(ops::embedding(&half, &z(&[3, 4])), "not a row index");
    let bad_ids = Tensor::from_i64(vec![0, 7], [2], Device::Cpu).unwrap();
    err_contains(ops::embedding(&bad_ids, &z(&[3, 4])), "outside the table");
    let f64t = Tensor::zeros([2], DType::F64, Device::Cpu);
    err_contains(ops::add(&z(&[2]), &f64t), "dtypes differ");
    let r = Tensor::zeros([2], DType::F32, Device::Reference);
    err_contains(ops::add(&z(&[2]), &r), "devices differ");
    err_contains(ops::where_(&z(&[2]), &z(&[2]), &z(&[2])), "u8 mask");
    err_contains(ops::clamp(&z(&[2]), 1.0, -1.0), "above upper");
    assert!("tpu"
        .parse::<Device>()
        .unwrap_err()
        .to_string()
        .contains("unknown device"));
}

#[test]
fn optimizer_reports_the_parameter_with_a_bad_gradient() {
    // On the host, and on the emulated GPU (gradients and moments in device memory).
    for dev in [Device::Cpu, Device::Emu] {
        bad_gradient_is_refused(dev);
    }
}

fn bad_gradient_is_refused(dev: Device) {
    use coin::nn::{Ctx, Linear, LinearCfg, ParamGroup};
    use coin::optim::{Adam, AdamConfig};
    let mut rng = coin::rng::Rng::new(1);
    let mut g = ParamGroup::new("gen", dev);
    let cfg = LinearCfg {
        fin: 2,
        fout: 1,
        ..Default::default()
    };
    let lin = Linear::new(&mut g.scope("head"), cfg, &mut rng).unwrap();
    let mut adam = Adam::new(&g, AdamConfig::default()).unwrap();
    let tape = coin::Tape::new();
    let ctx = Ctx::train(&tape);
    let x = Tensor::from_f32(vec![f32::NAN, 1.0], [1, 2], dev).unwrap();
    let y = ops::sum_all(&lin.forward(&x, &ctx).unwrap()).unwrap();
    let grads = tape
        .backward(&y, &g.tensors().iter().collect::<Vec<_>>())
        .unwrap();
    g.accumulate(&grads).unwrap();
    let before = g.values();
    let e = adam.step(&mut g).unwrap_err().to_string();
    assert!(e.contains("head.weight"), "{dev}: {e}");
    let same = g
        .values()
        .iter()
        .zip(&before)
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(same, "{dev}: a failed step changes nothing");
}
