//! Layer 3: PyTorch golden fixtures (tests/fixtures/README.md says how they were made).
//! Every op runs on the reference backend in f64 (must match PyTorch-f64 to ~1e-9) and on the
//! fast CPU backend in f32 (usual tolerances), forward and every input gradient.

use crate::common::{check_close, Tol, ELEMENTWISE, REDUCTION};
use coin::io::load_tensors;
use coin::nn::{ParamGroup, SNConv2d};
use coin::ops;
use coin::optim::{Adam, AdamConfig};
use coin::{DType, Device, Result, Tape, Tensor};
use std::collections::HashMap;
use std::path::PathBuf;

type Fixture = HashMap<String, Tensor>;
type OpFn = Box<dyn Fn(&[Tensor], &Fixture) -> Result<Tensor>>;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load(name: &str) -> Fixture {
    let p = dir().join(format!("{name}.safetensors"));
    load_tensors(&p, Device::Reference)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
        .into_iter()
        .collect()
}

fn on(t: &Tensor, dtype: DType, dev: Device) -> Tensor {
    t.cast(dtype).to_device(dev)
}

fn bn_state(fx: &Fixture, c: usize, dtype: DType, dev: Device) -> ops::BatchNormState {
    let get = |k: &str, d: f64| {
        fx.get(k)
            .map(|t| on(t, dtype, dev))
            .unwrap_or_else(|| Tensor::full(d, [c], dtype, dev))
    };
    ops::BatchNormState {
        running_mean: get("rm_in", 0.0),
        running_var: get("rv_in", 1.0),
        num_batches_tracked: 0,
    }
}

/// Fixtures whose closure reads more than its inputs from the fixture (running statistics,
/// ids) or that no op-table case matches; every other fixture is named by its case in the op
/// table (`cases/<family>.rs`) and runs that case's closure.
fn fixture_only() -> Vec<(&'static str, bool, OpFn)> {
    vec![
        (
            "batch_norm_train",
            true,
            Box::new(|x, fx| {
                let mut st = bn_state(fx, 4, x[0].dtype(), x[0].device());
                let y = ops::batch_norm(
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
                )?;
                let tol = Tol {
                    atol: 1e-6,
                    rtol: 1e-5,
                };
                check_close(
                    "running_mean",
                    &st.running_mean.to_vec_f64(),
                    &fx["running_mean"].to_vec_f64(),
                    tol,
                )
                .unwrap();
                check_close(
                    "running_var",
                    &st.running_var.to_vec_f64(),
                    &fx["running_var"].to_vec_f64(),
                    tol,
                )
                .unwrap();
                Ok(y)
            }),
        ),
        (
            "batch_norm_eval",
            true,
            Box::new(|x, fx| {
                let st = ops::BatchNormState {
                    running_mean: on(&fx["running_mean"], x[0].dtype(), x[0].device()),
                    running_var: on(&fx["running_var"], x[0].dtype(), x[0].device()),
                    num_batches_tracked: 0,
                };
                ops::batch_norm(
                    &x[0],
                    ops::Affine {
                        gamma: Some(&x[1]),
                        beta: Some(&x[2]),
                    },
                    ops::BnMode::Eval { state: &st },
                    1e-3,
                )
            }),
        ),
        (
            "embedding",
            true,
            Box::new(|x, fx| {
                ops::embedding(&fx["ids"].cast(DType::I64).to_device(x[0].device()), &x[0])
            }),
        ),
        (
            "mean_per_sample",
            true,
            Box::new(|x, _| ops::mean(&x[0], &[1, 2, 3], false)),
        ),
    ]
}

/// Every fixture: (name, reduction tolerance, closure) from the op table's cases that name one,
/// then the fixture-only ones.
fn table() -> Vec<(&'static str, bool, OpFn)> {
    let mut t: Vec<(&'static str, bool, OpFn)> = crate::cases::all_cases()
        .into_iter()
        .filter_map(|c| {
            let f = c.f;
            let op: OpFn = Box::new(move |x, _| f(x));
            c.fixture.map(|name| (name, c.reduction, op))
        })
        .collect();
    t.extend(fixture_only());
    t
}

fn run_case(
    name: &str,
    f: &OpFn,
    fx: &Fixture,
    dtype: DType,
    dev: Device,
    tol: Tol,
) -> std::result::Result<(), String> {
    let n_in = (0..)
        .take_while(|i| fx.contains_key(&format!("in{i}")))
        .count();
    let tape = Tape::new();
    let inputs: Vec<Tensor> = (0..n_in)
        .map(|i| {
            let t = on(&fx[&format!("in{i}")], dtype, dev);
            if fx.contains_key(&format!("grad{i}")) {
                tape.track(&t)
            } else {
                t
            }
        })
        .collect();
    let y = f(&inputs, fx).map_err(|e| format!("{name}: {e}"))?;
    check_close(
        &format!("{name} [{dev}] forward"),
        &y.to_vec_f64(),
        &fx["out"].to_vec_f64(),
        tol,
    )?;
    let w = on(&fx["weight"], dtype, dev);
    let loss = ops::sum_all(&ops::mul(&y, &w.detach()).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let wrt: Vec<&Tensor> = (0..n_in)
        .filter(|i| fx.contains_key(&format!("grad{i}")))
        .map(|i| &inputs[i])
        .collect();
    let grads = tape
        .backward(&loss, &wrt)
        .map_err(|e| format!("{name}: {e}"))?;
    for (i, input) in inputs.iter().enumerate() {
        if let Some(want) = fx.get(&format!("grad{i}")) {
            let got = grads
                .get(input)
                .ok_or_else(|| format!("{name}: no gradient for input {i}"))?;
            check_close(
                &format!("{name} [{dev}] d/din{i}"),
                &got.to_vec_f64(),
                &want.to_vec_f64(),
                tol,
            )?;
        }
    }
    Ok(())
}

#[test]
fn every_op_matches_pytorch_on_both_backends() {
    let mut failures = Vec::new();
    let table = table();
    for (name, reduction, f) in &table {
        let fx = load(name);
        let ref_tol = Tol {
            atol: 1e-9,
            rtol: 1e-9,
        };
        if let Err(e) = run_case(name, f, &fx, DType::F64, Device::Reference, ref_tol) {
            failures.push(e);
        }
        let cpu_tol = if *reduction { REDUCTION } else { ELEMENTWISE };
        if let Err(e) = run_case(name, f, &fx, DType::F32, Device::Cpu, cpu_tol) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches with PyTorch:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!(
        "pytorch fixtures: {} ops matched on reference and cpu",
        table.len()
    );
}

#[test]
fn adam_and_adamw_match_pytorch() {
    for (name, cfg) in [
        (
            "adam_beta1_0",
            AdamConfig {
                lr: 2e-4,
                beta1: 0.0,
                ..Default::default()
            },
        ),
        (
            "adam_wd",
            AdamConfig {
                lr: 1e-3,
                weight_decay: 1e-2,
                ..Default::default()
            },
        ),
        (
            "adamw",
            AdamConfig {
                lr: 1e-3,
                weight_decay: 1e-2,
                decoupled: true,
                ..Default::default()
            },
        ),
    ] {
        let fx = load(name);
        let mut g = ParamGroup::new("p", Device::Cpu);
        let p = g.add("p", [17], fx["p0"].to_vec_f32()).unwrap();
        let mut adam = Adam::new(&g, cfg).unwrap();
        for k in 0..3 {
            g.zero_grad().unwrap();
            let gk =
                Tensor::from_f32(fx[&format!("g{k}")].to_vec_f32(), [17], Device::Cpu).unwrap();
            // Feed the fixture gradient through the tape: d(sum(p·g))/dp = g.
            let tape = Tape::new();
            let pt = tape.track(&p.value());
            let l = ops::sum_all(&ops::mul(&pt, &gk).unwrap()).unwrap();
            g.accumulate(&tape.backward(&l, &[&pt]).unwrap()).unwrap();
            adam.step(&mut g).unwrap();
        }
        let tol = Tol {
            atol: 1e-7,
            rtol: 1e-6,
        };
        check_close(name, &p.value().to_vec_f64(), &fx["p3"].to_vec_f64(), tol).unwrap();
    }
}

#[test]
fn spectral_norm_power_iteration_matches_the_papers_layer() {
    let fx = load("spectral_norm");
    let mut g = ParamGroup::new("d", Device::Cpu);
    let mut rng = coin::rng::Rng::new(0);
    let cfg = coin::nn::Conv2dCfg {
        cin: 3,
        cout: 4,
        k: 3,
        padding: 1,
        bias: false,
        ..Default::default()
    };
    let sn = SNConv2d::new(&mut g.scope("conv"), cfg, &mut rng).unwrap();
    sn.conv.weight.set(&fx["w"].to_vec_f32()).unwrap();
    sn.u.set(Tensor::from_f64_as(&fx["u"].to_vec_f64(), [1, 4], DType::F32, Device::Cpu).unwrap())
        .unwrap();
    let x = Tensor::zeros([1, 3, 4, 4], DType::F32, Device::Cpu);
    sn.forward(&x, &coin::nn::Ctx::eval()).unwrap();
    let tol = Tol {
        atol: 1e-6,
        rtol: 1e-5,
    };
    check_close("sigma", &[sn.sigma()], &fx["sigma"].to_vec_f64(), tol).unwrap();
    check_close(
        "u",
        &sn.u.get().to_vec_f64(),
        &fx["u_next"].to_vec_f64(),
        tol,
    )
    .unwrap();
}
