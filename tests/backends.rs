//! Layer 4: the fast CPU path against the reference, forward and every input gradient, on the
//! whole case table (f32 inputs; the reference accumulates in f64).

use crate::cases::{all_cases, make_inputs};
use crate::common::{check_close, value_and_grads, ELEMENTWISE, REDUCTION};
use coin::{DType, Device};

#[test]
fn cpu_matches_reference_forward_and_backward() {
    let failures = matches_reference(Device::Cpu);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The whole op table on the CUDA kernels (emulated), in order and with a shuffled schedule.
#[test]
fn emulated_kernels_match_reference_forward_and_backward() {
    use coin::gpu::emu::{set_schedule, Schedule};
    for sched in [Schedule::InOrder, Schedule::Shuffled { seed: 3 }] {
        set_schedule(sched);
        let failures = matches_reference(Device::Emu);
        set_schedule(Schedule::InOrder);
        assert!(
            failures.is_empty(),
            "{sched:?}: {} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
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
    let failures = matches_reference(Device::Cuda(0));
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
        let run = |dev| {
            let inputs = make_inputs(case, 2000 + k as u64, DType::F32, dev);
            value_and_grads(&*case.f, &inputs, &grad)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name))
        };
        let (yc, gc) = run(dev);
        let (yr, gr) = run(Device::Reference);
        if (yc.device() != dev || yc.dtype() != DType::F32) && yc.dtype().is_float() {
            failures.push(format!(
                "{}: output on {} as {}",
                case.name,
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
        check(format!("{} forward", case.name), &yc, &yr);
        for (i, (a, b)) in gc.iter().zip(&gr).enumerate() {
            if let (Some(a), Some(b)) = (a, b) {
                check(format!("{} d/dinput{i}", case.name), a, b);
            }
        }
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
