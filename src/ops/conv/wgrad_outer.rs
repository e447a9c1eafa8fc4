//! The weight gradient of a stride-1 convolution on the CPU, f32, as a sum of outer products
//! (layers with 16+ output channels and kernels larger than 1×1; `wgrad_lanes.rs` does the rest):
//! `dW[co][r] = Σ_pixels dy[co][pixel] · x[r-th tap of pixel]`, r = (ci, kh, kw).
//!
//! - Layout: the output gradient is transposed once to `dyT[n][pixel][co]` (channels padded
//!   to whole 16-lane vectors with zeros), so one load gives 16 output channels of a pixel; the
//!   input is zero-padded once (`direct::pad`).
//! - Register tile: `CV` vectors of 16 output channels × `TR` taps; per pixel, `CV` loads,
//!   `TR` scalar broadcasts of input values and `CV × TR` fused multiply-adds, no horizontal
//!   reductions (the reduction runs along pixels, in the accumulators).
//! - Tasks: one per (image, band of rows of about 2048 pixels), each with a private dW; the
//!   private dWs are summed in task order, so the result does not depend on the thread count.

use super::direct::pad;
use super::simd::{fma, simd, simd_variant, Lanes, Simd, L};
use super::ConvGeom;
use rayon::prelude::*;

/// True when this kernel handles the problem and is the better choice: stride 1, rows of 12+
/// outputs, at least 16 output channels (full vectors) and 24+ taps per output channel (Cin·Kh·Kw,
/// two register tiles). Measured against `wgrad_lanes`, which wins on 1×1 and few channels.
pub(super) fn supports(g: &ConvGeom) -> bool {
    g.sh == 1
        && g.sw == 1
        && g.wo >= 12
        && g.cout >= 16
        && g.kh * g.kw > 1
        && g.cin * g.kh * g.kw >= 24
}

struct Plan {
    cin: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    hp: usize,
    wp: usize,
    ho: usize,
    wo: usize,
    /// Output channels rounded up to whole vectors.
    cop: usize,
}

struct Job {
    img: usize,
    rows: std::ops::Range<usize>,
}

/// Overwrites `dw` (Cout × Cin × Kh × Kw) with the weight gradient.
pub(super) fn weight_grad(dy: &[f32], x: &[f32], g: &ConvGeom, dw: &mut [f32]) {
    let (ho, wo, p) = (g.ho, g.wo, g.ho * g.wo);
    let (hp, wp) = (g.h + 2 * g.ph, g.w + 2 * g.pw);
    let xp = pad(x, g.n * g.cin, (g.h, g.w), (g.ph, g.pw), (hp, wp));
    // Two channel vectors per tile when there are more than 16 output channels; channels are
    // padded with zeros to whole tiles.
    let cv = if g.cout > L { 2 } else { 1 };
    let cop = g.cout.div_ceil(cv * L) * cv * L;
    let mut dyt = vec![0f32; g.n * p * cop];
    dyt.par_chunks_mut(p * cop)
        .enumerate()
        .for_each(|(img, t)| {
            for co in 0..g.cout {
                let src = &dy[(img * g.cout + co) * p..][..p];
                for (px, &v) in src.iter().enumerate() {
                    t[px * cop + co] = v;
                }
            }
        });
    let plan = Plan {
        cin: g.cin,
        cout: g.cout,
        kh: g.kh,
        kw: g.kw,
        hp,
        wp,
        ho,
        wo,
        cop,
    };
    let band = 2048usize.div_ceil(wo).max(1);
    let bands = ho.div_ceil(band);
    let jobs: Vec<Job> = (0..g.n * bands)
        .map(|t| Job {
            img: t / bands,
            rows: (t % bands) * band..((t % bands + 1) * band).min(ho),
        })
        .collect();
    let kernel = pick(simd(), cv);
    let r = g.cin * g.kh * g.kw;
    let partials: Vec<Vec<f32>> = jobs
        .par_iter()
        .map(|job| {
            let mut part = vec![0f32; g.cout * r];
            // SAFETY: the kernel's features were detected at run time.
            unsafe { kernel(&plan, &xp, &dyt, job, &mut part) };
            part
        })
        .collect();
    dw.fill(0.0);
    for part in &partials {
        for (d, v) in dw.iter_mut().zip(part) {
            *d += v;
        }
    }
}

type Kernel = unsafe fn(&Plan, &[f32], &[f32], &Job, &mut [f32]);
simd_variant!(job_avx512, "avx512f,fma", true, run_job<CV, TR>(p: &Plan, x: &[f32], dyt: &[f32], job: &Job, dw: &mut [f32]));
simd_variant!(job_avx2, "avx2,fma", true, run_job<CV, TR>(p: &Plan, x: &[f32], dyt: &[f32], job: &Job, dw: &mut [f32]));
simd_variant!(job_portable, "sse2", false, run_job<CV, TR>(p: &Plan, x: &[f32], dyt: &[f32], job: &Job, dw: &mut [f32]));

/// Two channel vectors × 12 taps, or one × 12. (Measured: one × 8 and one × 16 run 20× slower —
/// the compiler then keeps the accumulators in memory.)
fn pick(kind: Simd, cv: usize) -> Kernel {
    macro_rules! pick {
        ($cv:literal, $tr:literal) => {
            match kind {
                Simd::Avx512 => job_avx512::<$cv, $tr> as Kernel,
                Simd::Avx2 => job_avx2::<$cv, $tr> as Kernel,
                Simd::Portable => job_portable::<$cv, $tr> as Kernel,
            }
        };
    }
    if cv == 2 {
        pick!(2, 12)
    } else {
        pick!(1, 12)
    }
}

/// One band of rows of one image into a private `dw` ([Cout][Cin·Kh·Kw]).
#[inline(always)]
fn run_job<const CV: usize, const TR: usize, const F: bool>(
    p: &Plan,
    x: &[f32],
    dyt: &[f32],
    job: &Job,
    dw: &mut [f32],
) {
    let taps = p.kh * p.kw;
    let r_total = p.cin * taps;
    let ximg = job.img * p.cin * p.hp * p.wp;
    let dimg = job.img * p.ho * p.wo * p.cop;
    assert!(x.len() >= ximg + p.cin * p.hp * p.wp && dyt.len() >= dimg + p.ho * p.wo * p.cop);
    assert!(job.rows.end <= p.ho && p.hp + 1 >= p.ho + p.kh && p.wp + 1 >= p.wo + p.kw);
    assert!(dw.len() >= p.cout * r_total && r_total > 0 && p.cop.is_multiple_of(CV * L));
    let (xptr, dptr) = (x.as_ptr(), dyt.as_ptr());
    let mut cv0 = 0;
    while cv0 * L < p.cout {
        let mut r0 = 0;
        while r0 < r_total {
            // Offsets of this tile's taps in the image; taps past the end repeat the last one
            // (a fixed trip count keeps the accumulators in registers) and are never stored.
            let off: [usize; TR] = std::array::from_fn(|t| {
                let r = (r0 + t).min(r_total - 1);
                let (ci, k) = (r / taps, r % taps);
                ximg + (ci * p.hp + k / p.kw) * p.wp + k % p.kw
            });
            let mut acc = [[[0f32; L]; CV]; TR];
            for oh in job.rows.clone() {
                for ow in 0..p.wo {
                    let px = oh * p.wo + ow;
                    // SAFETY: cop is a multiple of CV·L and cv0·L < cout ≤ cop, so
                    // (cv0 + c)·L + L ≤ cop for c < CV: inside this pixel's row of dyT.
                    let d: [Lanes; CV] = std::array::from_fn(|c| unsafe {
                        std::ptr::read_unaligned(
                            dptr.add(dimg + px * p.cop + (cv0 + c) * L) as *const Lanes
                        )
                    });
                    let shift = oh * p.wp + ow;
                    for (t, a) in acc.iter_mut().enumerate() {
                        // SAFETY: oh + kh < hp and ow + kw < wp (asserted), inside the image.
                        let xv = unsafe { *xptr.add(off[t] + shift) };
                        for c in 0..CV {
                            for l in 0..L {
                                a[c][l] = fma::<F>(xv, d[c][l], a[c][l]);
                            }
                        }
                    }
                }
            }
            for (t, a) in acc.iter().enumerate().take(r_total - r0) {
                for (c, lanes) in a.iter().enumerate() {
                    for (l, &v) in lanes.iter().enumerate() {
                        let co = (cv0 + c) * L + l;
                        if co < p.cout {
                            dw[co * r_total + r0 + t] += v;
                        }
                    }
                }
            }
            r0 += TR;
        }
        cv0 += CV;
    }
}
