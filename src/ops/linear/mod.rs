//! Matrix products: `matmul` (2-D) and `linear` (`x · wᵀ + b`, PyTorch's layout).
//! Both are built on one primitive, `mm` with optional transposes, whose fast path is `gemm`.

pub(crate) mod gemm;
mod gpu;
mod packed;

use super::{
    any_tracked, from_f32_like, from_f64_like, gpu_or_reference, path_of, require_float,
    require_same, Path,
};
use crate::autograd::record;
use crate::{Error, Result, Tensor};

/// `op(a) · op(b)` where `op` transposes when asked; untracked.
pub(crate) fn mm(a: &Tensor, ta: bool, b: &Tensor, tb: bool) -> Result<Tensor> {
    let (ar, ac) = (a.dims()[0], a.dims()[1]);
    let (br, bc) = (b.dims()[0], b.dims()[1]);
    let (m, k) = if ta { (ac, ar) } else { (ar, ac) };
    let n = if tb { br } else { bc };
    let reference = || {
        let (av, bv) = (a.to_vec_f64(), b.to_vec_f64());
        let at = |i: usize, j: usize| if ta { av[j * ac + i] } else { av[i * ac + j] };
        let bt = |i: usize, j: usize| if tb { bv[j * bc + i] } else { bv[i * bc + j] };
        let mut out = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|l| at(i, l) * bt(l, j)).sum();
            }
        }
        from_f64_like(&out, [m, n], a)
    };
    Ok(match path_of(a) {
        Path::Gpu => gpu_or_reference(gpu::mm(a, ta, b, tb, [m, n, k]), reference)?,
        Path::Cpu => {
            let mut out = crate::tensor::recycler::zeroed(m * n);
            a.host_f32(|av| {
                b.host_f32(|bv| {
                    let l = gemm::MatRef::row_major(av, ar, ac);
                    let r = gemm::MatRef::row_major(bv, br, bc);
                    gemm::gemm(
                        &mut out,
                        n,
                        false,
                        if ta { l.t() } else { l },
                        if tb { r.t() } else { r },
                        true,
                    );
                })
            });
            from_f32_like(out, [m, n], a)
        }
        Path::Reference => reference(),
    })
}

/// `a · b` for matrices a: M×K, b: K×N.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    require_float("matmul", a)?;
    require_float("matmul", b)?;
    require_same("matmul", a, b)?;
    let (_, k) = a.shape().dims2("matmul")?;
    let (k2, _) = b.shape().dims2("matmul")?;
    if k != k2 {
        return Err(Error::Shape(format!(
            "matmul: {} · {}: inner dimensions differ",
            a.shape(),
            b.shape()
        )));
    }
    let y = mm(a, false, b, false)?;
    if !any_tracked(&[a, b]) {
        return Ok(y);
    }
    let (ad, bd) = (a.detach(), b.detach());
    record(
        "matmul",
        &[a, b],
        y,
        Box::new(move |g, needs| {
            Ok(vec![
                needs[0].then(|| mm(g, false, &bd, true)).transpose()?,
                needs[1].then(|| mm(&ad, true, g, false)).transpose()?,
            ])
        }),
    )
}

/// `x · wᵀ + b` for x: B×In, w: Out×In, b: Out.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    require_float("linear", x)?;
    require_float("linear", w)?;
    require_same("linear", x, w)?;
    let (_, fin) = x.shape().dims2("linear")?;
    let (fout, win) = w.shape().dims2("linear")?;
    if fin != win {
        return Err(Error::Shape(format!(
            "linear: input {} has {fin} features but weight {} expects {win}",
            x.shape(),
            w.shape()
        )));
    }
    let y = mm(x, false, w, true)?;
    let y = match b {
        Some(b) => {
            require_same("linear", x, b)?;
            if b.dims() != [fout] {
                return Err(Error::Shape(format!(
                    "linear: bias must have shape [{fout}], got {}",
                    b.shape()
                )));
            }
            super::add(&y, &b.detach())?
        }
        None => y,
    };
    let mut inputs = vec![x, w];
    inputs.extend(b);
    if !any_tracked(&inputs) {
        return Ok(y);
    }
    let (xd, wd) = (x.detach(), w.detach());
    let has_bias = b.is_some();
    record(
        "linear",
        &inputs,
        y,
        Box::new(move |g, needs| {
            let mut out = vec![
                needs[0].then(|| mm(g, false, &wd, false)).transpose()?,
                needs[1].then(|| mm(g, true, &xd, false)).transpose()?,
            ];
            if has_bias {
                out.push(if needs[2] {
                    Some(super::sum(g, &[0], false)?)
                } else {
                    None
                });
            }
            Ok(out)
        }),
    )
}
