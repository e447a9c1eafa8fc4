//! Test helpers: random tensors, closeness with a worst-element report, finite-difference
//! gradient checks; real sample files; a `smoke`-preset model trained once per test run.

#![allow(dead_code)]

pub mod files;

use coin::rng::Rng;
use coin::{ops, DType, Device, Result, Tape, Tensor};

pub fn uniform(
    rng: &mut Rng,
    shape: &[usize],
    lo: f64,
    hi: f64,
    dtype: DType,
    dev: Device,
) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.uniform_range(lo, hi)).collect();
    Tensor::from_f64_as(&v, shape.to_vec(), dtype, dev).unwrap()
}

pub fn randn(rng: &mut Rng, shape: &[usize], dtype: DType, dev: Device) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    Tensor::from_f64_as(&v, shape.to_vec(), dtype, dev).unwrap()
}

/// Tolerance `|a − b| ≤ atol + rtol·|b|`.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub atol: f64,
    pub rtol: f64,
}
pub const ELEMENTWISE: Tol = Tol {
    atol: 1e-5,
    rtol: 1e-4,
};
pub const REDUCTION: Tol = Tol {
    atol: 1e-4,
    rtol: 1e-3,
};

/// Ok, or a message naming the worst element and the NMSE.
pub fn check_close(
    what: &str,
    got: &[f64],
    want: &[f64],
    tol: Tol,
) -> std::result::Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: {} values vs {} expected",
            got.len(),
            want.len()
        ));
    }
    let mut worst = (0usize, 0f64);
    let (mut num, mut den) = (0f64, 0f64);
    let mut bad = 0;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        let excess = err - (tol.atol + tol.rtol * w.abs());
        // NaN counts as outside tolerance.
        if excess.is_nan() || excess > 0.0 {
            bad += 1;
            if excess.is_nan() || excess > worst.1 || bad == 1 {
                worst = (i, excess);
            }
        }
        num += (g - w).powi(2);
        den += w * w;
    }
    if bad > 0 {
        let i = worst.0;
        return Err(format!(
            "{what}: {bad}/{} elements outside tolerance {tol:?}; worst at {i}: got {} want {}; NMSE {:.3e}",
            got.len(),
            got[i],
            want[i],
            num / den.max(1e-300)
        ));
    }
    Ok(())
}

pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: Tol) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    if let Err(e) = check_close(what, &got.to_vec_f64(), &want.to_vec_f64(), tol) {
        panic!("{e}");
    }
}

/// `sum(f(xs) · weights)` with fixed pseudo-random weights, so every output element matters.
pub fn weighted_sum(y: &Tensor, seed: u64) -> Result<Tensor> {
    let mut rng = Rng::new(seed);
    let w = uniform(&mut rng, y.dims(), 0.5, 1.5, y.dtype(), y.device());
    ops::sum_all(&ops::mul(y, &w)?)
}

/// Output and gradients of `weighted_sum(f(inputs))` with respect to the inputs marked in `grad`.
pub fn value_and_grads(
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Tensor],
    grad: &[bool],
) -> Result<(Tensor, Vec<Option<Tensor>>)> {
    let tape = Tape::new();
    let tracked: Vec<Tensor> = inputs
        .iter()
        .zip(grad)
        .map(|(t, &g)| if g { tape.track(t) } else { t.clone() })
        .collect();
    let y = f(&tracked)?;
    let loss = weighted_sum(&y, 99)?;
    let wrt: Vec<&Tensor> = tracked
        .iter()
        .zip(grad)
        .filter(|(_, &g)| g)
        .map(|(t, _)| t)
        .collect();
    let grads = if wrt.is_empty() {
        None
    } else {
        Some(tape.backward(&loss, &wrt)?)
    };
    let gs = tracked
        .iter()
        .zip(grad)
        .map(|(t, &g)| {
            if g {
                grads.as_ref().and_then(|gr| gr.get(t).cloned())
            } else {
                None
            }
        })
        .collect();
    Ok((y.detach(), gs))
}

/// Central finite differences in f64 on the reference backend against the tape's gradients.
pub fn gradcheck(
    name: &str,
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Tensor],
    grad: &[bool],
) -> std::result::Result<(), String> {
    let (_, analytic) = value_and_grads(f, inputs, grad).map_err(|e| format!("{name}: {e}"))?;
    let eps = 1e-6;
    for (k, x) in inputs.iter().enumerate() {
        if !grad[k] {
            continue;
        }
        let base = x.to_vec_f64();
        let mut numeric = vec![0f64; base.len()];
        for i in 0..base.len() {
            let eval = |d: f64| -> Tensor {
                let mut v = base.clone();
                v[i] += d;
                let mut xs = inputs.to_vec();
                xs[k] = Tensor::from_f64(v, x.dims().to_vec(), x.device()).unwrap();
                f(&xs).unwrap()
            };
            // The outputs are differenced before they are weighted and summed: differencing
            // two large sums would lose the derivative to their rounding on large maps.
            let dy = coin::ops::sub(&eval(eps), &eval(-eps)).unwrap();
            numeric[i] = weighted_sum(&dy, 99).unwrap().to_scalar().unwrap() / (2.0 * eps);
        }
        let a = analytic[k]
            .as_ref()
            .ok_or_else(|| format!("{name}: no gradient for input {k}"))?;
        check_close(
            &format!("{name}: d/dinput{k}"),
            &a.to_vec_f64(),
            &numeric,
            Tol {
                atol: 1e-6,
                rtol: 1e-5,
            },
        )?;
    }
    Ok(())
}
