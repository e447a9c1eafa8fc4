//! Convolutions and matrix products at each GPU precision (`ops::precision`: fp32, tf32,
//! 3xtf32) against the f64 reference, forward and both backward passes, each output within the
//! bound its rounding allows:
//!
//!   |got − want| ≤ (e_p + a_p·K·2⁻²³)·S + 1e-30
//!
//! where S is the same product on absolute values (Σ|a|·|b| for that output: the reference
//! run on |inputs|), K the length of the sum, e_p the precision's product error (0 for fp32;
//! 2·2⁻¹¹ + 2⁻²² for tf32: both operands rounded to 10 mantissa bits; 3·2⁻²² for 3xtf32: the
//! dropped low·low product and the low parts' rounding) and a_p its FP32 additions per term
//! (3 for 3xtf32). 2⁻²³ per addition covers round-to-nearest and truncating accumulators.
//! And the bound is not loose enough to hide the wrong kernel: tf32 must show its rounding
//! (some output off by more than 1e-5·S), fp32 and 3xtf32 must not.

use crate::gpu::{gpu_only, randn};
use coin::gpu::emu::{self, Schedule};
use coin::ops::{self, Precision};
use coin::rng::Rng;
use coin::{Device, Tape, Tensor};

/// The failures of a family of products, and the largest |got − want| / S over them.
struct Outcome {
    worst_relative: f64,
    failures: Vec<String>,
}

fn compare(what: &str, got: &[f64], want: &[f64], scale: &[f64], bound: f64, out: &mut Outcome) {
    for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
        let err = (g - w).abs();
        if *s > 0.0 {
            out.worst_relative = out.worst_relative.max(err / s);
        }
        if err > bound * s + 1e-30 {
            out.failures.push(format!(
                "{what}[{i}]: {g} vs {w}, |error| {err:.3e} > bound {:.3e}",
                bound * s
            ));
            return;
        }
    }
}

fn bound(p: Precision, k: usize) -> f64 {
    p.product_error() + p.adds_per_term() * k as f64 * 2f64.powi(-23)
}

/// y = f(inputs) and its input gradients for the output gradient `gy`, on `dev`.
fn run(
    dev: Device,
    inputs: &[(Vec<f32>, Vec<usize>)],
    gy: &[f32],
    f: &dyn Fn(&[Tensor]) -> Tensor,
) -> Vec<Vec<f64>> {
    let tape = Tape::new();
    let ts: Vec<Tensor> = inputs
        .iter()
        .map(|(v, d)| tape.track(&Tensor::from_f32(v.clone(), d.clone(), dev).unwrap()))
        .collect();
    let y = f(&ts);
    let seed = Tensor::from_f32(gy.to_vec(), y.dims().to_vec(), dev).unwrap();
    let g = tape
        .backward_with(&y, seed, &ts.iter().collect::<Vec<_>>())
        .unwrap();
    let mut out = vec![y.to_vec_f64()];
    out.extend(ts.iter().map(|t| g.get(t).unwrap().to_vec_f64()));
    out
}

/// One product family on `device` at precision `p`: the outputs' errors against the
/// reference, bounded as the header says. `ks` are the sum lengths of y and each gradient.
fn check(
    device: Device,
    p: Precision,
    what: &str,
    inputs: Vec<(Vec<f32>, Vec<usize>)>,
    ks: &[usize],
    f: &dyn Fn(&[Tensor]) -> Tensor,
    out: &mut Outcome,
) {
    let probe = f(&inputs
        .iter()
        .map(|(v, d)| Tensor::from_f32(v.clone(), d.clone(), Device::Reference).unwrap())
        .collect::<Vec<_>>());
    let mut r = Rng::new(17);
    let gy = randn(&mut r, probe.numel());
    ops::set_gpu_precision(p, p);
    let got = run(device, &inputs, &gy, f);
    ops::set_gpu_precision(Precision::Fp32, Precision::Fp32);
    let want = run(Device::Reference, &inputs, &gy, f);
    let abs: Vec<(Vec<f32>, Vec<usize>)> = inputs
        .iter()
        .map(|(v, d)| (v.iter().map(|x| x.abs()).collect(), d.clone()))
        .collect();
    let gy_abs: Vec<f32> = gy.iter().map(|x| x.abs()).collect();
    let scale = run(Device::Reference, &abs, &gy_abs, f);
    for (i, k) in ks.iter().enumerate() {
        let part = if i == 0 {
            "y".to_string()
        } else {
            format!("d/dinput{}", i - 1)
        };
        compare(
            &format!("{what} {p} {part}"),
            &got[i],
            &want[i],
            &scale[i],
            bound(p, *k),
            out,
        );
    }
}

/// Every convolution pass (shapes taking the tiled kernels: Cin·k·k > 27, strides 1 and 2,
/// partial tiles, K up to 1,152) and every matrix product (`linear` forward and backward:
/// all operand layouts) at precision `p` on `device`. Returns the worst |error| / S.
pub fn precision_matches_reference(device: Device, p: Precision, tag: &str) -> f64 {
    let mut out = Outcome {
        worst_relative: 0.0,
        failures: vec![],
    };
    let mut r = Rng::new(29);
    let convs: &[([usize; 4], usize, usize, usize, usize)] = &[
        ([2, 8, 9, 7], 20, 3, 1, 1),
        ([1, 6, 8, 8], 40, 3, 2, 1),
        ([2, 16, 5, 5], 70, 1, 1, 0),
        ([1, 128, 6, 6], 24, 3, 1, 1),
    ];
    for &(xd, cout, k, s, pad) in convs {
        let wd = vec![cout, xd[1], k, k];
        let ho = (xd[2] + 2 * pad - k) / s + 1;
        let wo = (xd[3] + 2 * pad - k) / s + 1;
        let inputs = vec![
            (randn(&mut r, xd.iter().product()), xd.to_vec()),
            (randn(&mut r, wd.iter().product()), wd),
            (randn(&mut r, cout), vec![cout]),
        ];
        let ks = [
            xd[1] * k * k,
            cout * k * k,
            xd[0] * ho * wo,
            xd[0] * ho * wo,
        ];
        let f = move |t: &[Tensor]| {
            ops::conv2d(&t[0], &t[1], Some(&t[2]), ops::Conv2dParams::new(s, pad)).unwrap()
        };
        let what = format!("{tag} conv {xd:?} cout {cout} k{k} s{s} p{pad}");
        check(device, p, &what, inputs, &ks, &f, &mut out);
    }
    for &(n, i, o) in &[(70usize, 40usize, 90usize), (5, 300, 3)] {
        let inputs = vec![
            (randn(&mut r, n * i), vec![n, i]),
            (randn(&mut r, o * i), vec![o, i]),
            (randn(&mut r, o), vec![o]),
        ];
        let f = |t: &[Tensor]| ops::linear(&t[0], &t[1], Some(&t[2])).unwrap();
        let what = format!("{tag} linear {n}×{i}→{o}");
        check(device, p, &what, inputs, &[i, o, n, n], &f, &mut out);
    }
    assert!(
        out.failures.is_empty(),
        "{} outputs past their bound:\n{}",
        out.failures.len(),
        out.failures.join("\n")
    );
    out.worst_relative
}

/// Each precision within its bound on the emulator (a shuffled schedule) and on a real GPU
/// when present; tf32 visibly rounds, fp32 and 3xtf32 agree with the reference to FP32
/// accuracy.
#[test]
fn every_gpu_precision_meets_its_rounding_bound() {
    let mut devices = vec![];
    if !gpu_only() {
        devices.push(Device::Emu);
    }
    match coin::gpu::for_device(Device::Cuda(0)) {
        Ok(_) => devices.push(Device::Cuda(0)),
        Err(e) => println!("SKIPPED on cuda: GPU precisions: {e}"),
    }
    emu::set_schedule(Schedule::Shuffled { seed: 11 });
    for dev in devices {
        for p in Precision::ALL {
            coin::gpu::record_launches();
            let worst = precision_matches_reference(dev, p, &format!("{dev}"));
            let launched = coin::gpu::take_recorded_launches();
            println!("{dev} {p}: worst |error| / Σ|a||b| = {worst:.2e}");
            // The kernels of this precision ran, and only they (`conv2d_fwd_tf32`, …).
            let gemms: Vec<&&str> = launched
                .iter()
                .filter(|k| {
                    // The GEMMs: not the FP32-only thin-layer and split-sum kernels.
                    let thin = ["direct", "splitk", "cout1", "cin1"];
                    k.starts_with("conv2d_") && !thin.iter().any(|t| k.contains(t))
                        || k.starts_with("gemm_")
                })
                .collect();
            let suffix = format!("_{}", p.kernel_suffix());
            assert!(
                !gemms.is_empty() && gemms.iter().all(|k| k.ends_with(&suffix)),
                "{dev} {p}: launched {gemms:?}"
            );
            match p {
                Precision::Tf32 => assert!(worst > 1e-5, "{dev} tf32 shows no rounding: {worst}"),
                _ => assert!(worst < 1e-5, "{dev} {p}: {worst}"),
            }
        }
    }
    emu::set_schedule(Schedule::InOrder);
}
