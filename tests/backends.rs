//! Layer 4: the fast CPU path against the reference, forward and every input gradient, on the
//! whole case table (f32 inputs; the reference accumulates in f64).

use crate::cases::{all_cases, make_inputs};
use crate::common::{check_close, value_and_grads, ELEMENTWISE, REDUCTION};
use crate::gpu::randn;
use coin::rng::Rng;
use coin::{ops, DType, Device, Tape, Tensor};

#[test]
fn cpu_matches_reference_forward_and_backward() {
    let mut failures = matches_reference(Device::Cpu);
    failures.extend(optimizer_matches_reference(Device::Cpu));
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The whole op table and the optimizer ops on the CUDA kernels (emulated), in order and with
/// a shuffled schedule; together with the GEMM kernels at each precision they launch every
/// kernel of the table (a new kernel without a case fails here).
#[test]
fn emulated_kernels_match_reference_forward_and_backward() {
    use coin::gpu::emu::{set_schedule, Schedule};
    coin::gpu::record_launches();
    for sched in [Schedule::InOrder, Schedule::Shuffled { seed: 3 }] {
        set_schedule(sched);
        let mut failures = matches_reference(Device::Emu);
        failures.extend(optimizer_matches_reference(Device::Emu));
        set_schedule(Schedule::InOrder);
        assert!(
            failures.is_empty(),
            "{sched:?}: {} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    // The GEMM kernels at each precision: convolutions and matrix products.
    for p in coin::ops::Precision::ALL {
        crate::tensor_cores::precision_matches_reference(Device::Emu, p, "emu");
    }
    let launched = coin::gpu::take_recorded_launches();
    let missing: Vec<&str> = coin::gpu::table::KERNELS
        .iter()
        .filter(|k| k.module != "selftest" && !launched.contains(k.name))
        .map(|k| k.name)
        .collect();
    assert!(
        missing.is_empty(),
        "kernels no case launches (add a case to tests/cases.rs): {missing:?}"
    );
}

/// The whole op table on a real GPU when there is one (`COIN_REQUIRE_GPU=1`: must be).
#[test]
fn cuda_gpu_ops_match_reference_forward_and_backward() {
    if let Err(e) = coin::gpu::for_device(Device::Cuda(0)) {
        assert!(
            std::env::var("COIN_REQUIRE_GPU").as_deref() != Ok("1"),
            "COIN_REQUIRE_GPU=1 but no GPU: {e}"
        );
        println!("SKIPPED on cuda: the op table: {e}");
        return;
    }
    let mut failures = matches_reference(Device::Cuda(0));
    failures.extend(optimizer_matches_reference(Device::Cuda(0)));
    // One line each, for scripts/gpu-check.sh's summary (the first names the op and shapes).
    for f in &failures {
        println!("mismatch: {f}");
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every case of the table on `dev` against the reference: forward and every input gradient.
fn matches_reference(dev: Device) -> Vec<String> {
    let mut failures = Vec::new();
    let cases = all_cases();
    for (k, case) in cases.iter().enumerate() {
        let grad: Vec<bool> = case.inputs.iter().map(|i| i.grad).collect();
        let tol = if case.reduction {
            REDUCTION
        } else {
            ELEMENTWISE
        };
        let shapes: Vec<String> = case
            .inputs
            .iter()
            .map(|i| format!("{:?}", i.shape))
            .collect();
        let name = format!("{} ({})", case.name, shapes.join(", "));
        let run = |dev| {
            let inputs = make_inputs(case, 2000 + k as u64, DType::F32, dev);
            value_and_grads(&*case.f, &inputs, &grad)
        };
        // An op that fails on the device is a mismatch too (named, then the next case).
        let (yc, gc) = match run(dev) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{name}: error on {dev}: {e}"));
                continue;
            }
        };
        let (yr, gr) = run(Device::Reference).unwrap_or_else(|e| panic!("{name}: {e}"));
        if (yc.device() != dev || yc.dtype() != DType::F32) && yc.dtype().is_float() {
            failures.push(format!(
                "{name}: output on {} as {}",
                yc.device(),
                yc.dtype()
            ));
        }
        let mut check = |what: String, a: &coin::Tensor, b: &coin::Tensor| {
            if a.shape() != b.shape() {
                failures.push(format!("{what}: shape {} vs {}", a.shape(), b.shape()));
            } else if let Err(e) = check_close(&what, &a.to_vec_f64(), &b.to_vec_f64(), tol) {
                failures.push(e);
            }
        };
        check(format!("{name} forward"), &yc, &yr);
        for (i, (a, b)) in gc.iter().zip(&gr).enumerate() {
            if let (Some(a), Some(b)) = (a, b) {
                check(format!("{name} d/dinput{i}"), a, b);
            }
        }
    }
    failures
}

/// The optimizer ops on `dev` against the reference device: gradient accumulation (two
/// backward passes into one arena, two parameters at different offsets), Adam and AdamW steps
/// with weight decay and β1 = 0.5, batch-norm running statistics.
fn optimizer_matches_reference(dev: Device) -> Vec<String> {
    use coin::nn::ParamGroup;
    use coin::optim::{Adam, AdamConfig};
    use coin::{ops, Tape, Tensor};
    let mut failures = Vec::new();
    let mut check = |what: String, a: &[f64], b: &[f64], tol| {
        if let Err(e) = check_close(&what, a, b, tol) {
            failures.push(e);
        }
    };
    for decoupled in [false, true] {
        let run = |dev: Device| {
            let mut r = coin::rng::Rng::new(6);
            let mut group = ParamGroup::new("p", dev);
            group
                .add("w", [777], crate::gpu::randn(&mut r, 777))
                .unwrap();
            group.add("b", [5], crate::gpu::randn(&mut r, 5)).unwrap();
            let cfg = AdamConfig {
                lr: 0.01,
                beta1: 0.5,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.1,
                decoupled,
            };
            let mut opt = Adam::new(&group, cfg).unwrap();
            for _ in 0..3 {
                group.zero_grad().unwrap();
                for _ in 0..2 {
                    let tape = Tape::new();
                    let ws: Vec<Tensor> = group.tensors().iter().map(|t| tape.track(t)).collect();
                    let mut loss = None;
                    for w in &ws {
                        let g = Tensor::from_f32(
                            crate::gpu::randn(&mut r, w.numel()),
                            w.dims().to_vec(),
                            dev,
                        )
                        .unwrap();
                        let l =
                            ops::sum_all(&ops::mul(&ops::square(w).unwrap(), &g).unwrap()).unwrap();
                        loss = Some(match loss {
                            None => l,
                            Some(a) => ops::add(&a, &l).unwrap(),
                        });
                    }
                    let grads = tape
                        .backward(&loss.unwrap(), &ws.iter().collect::<Vec<_>>())
                        .unwrap();
                    group.accumulate(&grads).unwrap();
                }
                opt.step(&mut group).unwrap();
            }
            let f = |v: Vec<f32>| v.into_iter().map(|x| x as f64).collect::<Vec<_>>();
            let (m, v) = opt.moments().unwrap();
            [f(group.grad().to_vec()), f(group.values()), f(m), f(v)]
        };
        let (got, want) = (run(dev), run(Device::Reference));
        for (what, (g, w)) in ["gradient", "parameters", "m", "v"]
            .iter()
            .zip(got.iter().zip(&want))
        {
            check(
                format!("{dev} adam decoupled={decoupled} {what}"),
                g,
                w,
                REDUCTION,
            );
        }
    }
    let ema = |dev: Device| {
        let mut r = coin::rng::Rng::new(9);
        let group = |r: &mut coin::rng::Rng| {
            let mut g = ParamGroup::new("p", dev);
            g.add("w", [5000], crate::gpu::randn(r, 5000)).unwrap();
            g.add("b", [3], crate::gpu::randn(r, 3)).unwrap();
            g
        };
        let (mut avg, live) = (group(&mut r), group(&mut r));
        for w in [0.5, 0.01, 1.0 / 3.0] {
            avg.lerp_towards(&live, w).unwrap();
        }
        avg.values()
            .into_iter()
            .map(|x| x as f64)
            .collect::<Vec<_>>()
    };
    check(
        format!("{dev} moving average"),
        &ema(dev),
        &ema(Device::Reference),
        ELEMENTWISE,
    );
    let bn = |dev: Device| {
        let mut r = coin::rng::Rng::new(14);
        let xs = crate::gpu::randn(&mut r, 3 * 4 * 5 * 5);
        let mut st = ops::BatchNormState {
            running_mean: Tensor::zeros([4], DType::F32, dev),
            running_var: Tensor::ones([4], DType::F32, dev),
            num_batches_tracked: 0,
        };
        let x = Tensor::from_f32(xs, [3, 4, 5, 5], dev).unwrap();
        for _ in 0..2 {
            let mode = ops::BnMode::Train {
                state: Some(&mut st),
                momentum: 0.1,
            };
            ops::batch_norm(&x, ops::Affine::NONE, mode, 1e-5).unwrap();
        }
        let y = ops::batch_norm(
            &x,
            ops::Affine::NONE,
            ops::BnMode::Eval { state: &st },
            1e-5,
        )
        .unwrap();
        assert_eq!(st.num_batches_tracked, 2);
        [
            st.running_mean.to_vec_f64(),
            st.running_var.to_vec_f64(),
            y.to_vec_f64(),
        ]
    };
    let (got, want) = (bn(dev), bn(Device::Reference));
    for (what, (g, w)) in ["running mean", "running var", "eval output"]
        .iter()
        .zip(got.iter().zip(&want))
    {
        check(format!("{dev} batch norm {what}"), g, w, ELEMENTWISE);
    }
    failures
}

#[test]
fn cpu_conv_is_deterministic_run_to_run() {
    use coin::ops::{conv2d, Conv2dParams};
    let mut rng = coin::rng::Rng::new(5);
    let x = crate::common::randn(&mut rng, &[4, 16, 24, 24], DType::F32, Device::Cpu);
    let w = crate::common::randn(&mut rng, &[32, 16, 3, 3], DType::F32, Device::Cpu);
    let run = || {
        let (y, g) = value_and_grads(
            &|t: &[coin::Tensor]| conv2d(&t[0], &t[1], None, Conv2dParams::new(1, 1)),
            &[x.clone(), w.clone()],
            &[true, true],
        )
        .unwrap();
        (
            y.to_vec_f32(),
            g[0].as_ref().unwrap().to_vec_f32(),
            g[1].as_ref().unwrap().to_vec_f32(),
        )
    };
    let a = run();
    for _ in 0..3 {
        assert!(
            run() == a,
            "conv2d forward/backward differ bit-wise between runs"
        );
    }
}

#[test]
fn cpu_reductions_are_deterministic_and_accurate() {
    let n = 3_000_001;
    let v: Vec<f32> = (0..n).map(|i| ((i % 1000) as f32) * 1e-3 + 1.0).collect();
    let exact: f64 = v.iter().map(|&x| x as f64).sum();
    let t = coin::Tensor::from_f32(v, [n], Device::Cpu).unwrap();
    let s1 = coin::ops::sum_all(&t).unwrap().to_scalar().unwrap();
    let s2 = coin::ops::sum_all(&t).unwrap().to_scalar().unwrap();
    assert_eq!(s1, s2);
    assert!(
        (s1 - exact).abs() / exact < 1e-6,
        "sum {s1} vs exact {exact}"
    );
}

/// Batch norm over more planes (N·C) than grid.y holds (ResNet-18 at batch 128 has 65,536),
/// forward and backward, in training and evaluation, against the reference.
#[test]
fn batch_norm_past_65535_planes() {
    let (n, c, h, w) = (65_537, 1, 1, 2);
    let mut r = Rng::new(31);
    let xs = randn(&mut r, n * c * h * w);
    let run = |dev: Device, train: bool| {
        let tape = Tape::new();
        let x = tape.track(&Tensor::from_f32(xs.clone(), [n, c, h, w], dev).unwrap());
        let st = ops::BatchNormState {
            running_mean: Tensor::full(0.5, [c], coin::DType::F32, dev),
            running_var: Tensor::full(2.0, [c], coin::DType::F32, dev),
            num_batches_tracked: 0,
        };
        let mode = if train {
            ops::BnMode::train_stateless()
        } else {
            ops::BnMode::Eval { state: &st }
        };
        let y = ops::batch_norm(&x, ops::Affine::NONE, mode, 1e-5).unwrap();
        let loss = ops::sum_all(&ops::square(&y).unwrap()).unwrap();
        let g = tape.backward(&loss, &[&x]).unwrap();
        (y.to_vec_f64(), g.get(&x).unwrap().to_vec_f64())
    };
    for train in [true, false] {
        let (ye, ge) = run(Device::Emu, train);
        let (yr, gr) = run(Device::Reference, train);
        check_close(&format!("train={train} y"), &ye, &yr, REDUCTION).unwrap();
        check_close(&format!("train={train} dx"), &ge, &gr, REDUCTION).unwrap();
    }
}

/// Evaluation-mode batch norm with running statistics in device memory reads nothing back to
/// the host, forward or backward (they were read on every call before).
#[test]
fn eval_batch_norm_reads_nothing_back() {
    let mut r = Rng::new(32);
    let dev = Device::Emu;
    let x = Tensor::from_f32(randn(&mut r, 2 * 3 * 4 * 4), [2, 3, 4, 4], dev).unwrap();
    let gamma = Tensor::full(1.5, [3], coin::DType::F32, dev);
    let st = ops::BatchNormState {
        running_mean: Tensor::full(0.25, [3], coin::DType::F32, dev),
        running_var: Tensor::full(2.0, [3], coin::DType::F32, dev),
        num_batches_tracked: 0,
    };
    let tape = Tape::new();
    let xt = tape.track(&x);
    let before = coin::gpu::reads_on_this_thread();
    let affine = ops::Affine {
        gamma: Some(&gamma),
        beta: None,
    };
    let y = ops::batch_norm(&xt, affine, ops::BnMode::Eval { state: &st }, 1e-5).unwrap();
    let loss = ops::sum_all(&y).unwrap();
    let g = tape.backward(&loss, &[&xt]).unwrap();
    assert_eq!(
        coin::gpu::reads_on_this_thread(),
        before,
        "no device→host read"
    );
    // dL/dx = γ / √(var + eps) everywhere.
    let want = 1.5 / (2.0f64 + 1e-5).sqrt();
    let got = g.get(&xt).unwrap().to_vec_f64();
    assert!(got.iter().all(|v| (v - want).abs() < 1e-5), "{got:?}");
}

/// Comparisons on a GPU device give masks held there, which `where` and the backward of
/// `maximum`/`minimum` read in place: nothing falls back, nothing is read back or copied in;
/// the mask reads back as the host's.
#[test]
fn comparisons_and_their_masks_stay_on_the_device() {
    let mut r = Rng::new(33);
    let (va, vb) = (randn(&mut r, 24), randn(&mut r, 6));
    let run = |dev: Device| {
        let a = Tensor::from_f32(va.clone(), [4, 6], dev).unwrap();
        let b = Tensor::from_f32(vb.clone(), [1, 6], dev).unwrap();
        let tape = Tape::new();
        let (at, bt) = (tape.track(&a), tape.track(&b));
        let before = coin::gpu::counts_on_this_thread();
        let mask = ops::ge(&a, &b).unwrap();
        let picked = ops::where_(&mask, &at, &ops::minimum(&at, &bt).unwrap()).unwrap();
        let y = ops::maximum(&picked, &bt).unwrap();
        let loss = ops::sum_all(&ops::square(&y).unwrap()).unwrap();
        let g = tape.backward(&loss, &[&at, &bt]).unwrap();
        let counts = coin::gpu::counts_on_this_thread() - before;
        let mut mask_bytes = Vec::new();
        mask.with_u8(|m| mask_bytes = m.to_vec()).unwrap();
        (
            counts,
            mask_bytes,
            y.to_vec_f64(),
            g.get(&at).unwrap().to_vec_f64(),
            g.get(&bt).unwrap().to_vec_f64(),
        )
    };
    let (counts, mask, y, ga, gb) = run(Device::Emu);
    let want = run(Device::Reference);
    assert_eq!(
        (counts.reads, counts.writes, counts.fallbacks),
        (0, 0, 0),
        "{:?} at {:?}",
        counts,
        coin::gpu::take_fallback_sites()
    );
    assert_eq!(mask, want.1);
    check_close("y", &y, &want.2, ELEMENTWISE).unwrap();
    check_close("da", &ga, &want.3, ELEMENTWISE).unwrap();
    check_close("db", &gb, &want.4, REDUCTION).unwrap();
}
