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
//! - Tasks: with many pixels, one per (image, band of about 2048 pixels), each with a private
//!   dW, summed in task order; with few pixels (≤ 8192 in the batch), one per (group of channel
//!   vectors, chunk of taps) over every pixel, so nothing is summed twice. Either way the result
//!   does not depend on the thread count.

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

/// What one task sums: images × rows, for output-channel vectors `vecs` (in units of 16) and
/// taps `taps`, into a private `[Cout][taps.len()]` buffer.
struct Job {
    imgs: std::ops::Range<usize>,
    rows: std::ops::Range<usize>,
    vecs: std::ops::Range<usize>,
    taps: std::ops::Range<usize>,
}

/// Overwrites `dw` (Cout × Cin × Kh × Kw) with the weight gradient.
pub(super) fn weight_grad(dy: &[f32], x: &[f32], g: &ConvGeom, dw: &mut [f32]) {
    let (ho, wo, p) = (g.ho, g.wo, g.ho * g.wo);
    let (hp, wp) = (g.h + 2 * g.ph, g.w + 2 * g.pw);
    let xp = pad(x, g.n * g.cin, (g.h, g.w), (g.ph, g.pw), (hp, wp));
    // Channels are padded with zeros to whole tiles.
    let (cv, tr) = tile_for(simd(), g.cout);
    let cop = g.cout.div_ceil(cv * L) * cv * L;
    let mut dyt = crate::tensor::recycler::Scratch::zeroed(g.n * p * cop);
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
    let r = g.cin * g.kh * g.kw;
    let vectors = cop / L;
    let jobs: Vec<Job> = if g.n * p <= SMALL_PIXELS {
        // Few pixels: split the output (channel-vector groups × tap chunks); every task sums all
        // pixels, its dyT slice stays in cache, and nothing is summed twice.
        let chunk = (r.div_ceil(8).div_ceil(tr) * tr).max(tr);
        let mut jobs = Vec::new();
        for v0 in (0..vectors).step_by(cv) {
            for t0 in (0..r).step_by(chunk) {
                jobs.push(Job {
                    imgs: 0..g.n,
                    rows: 0..ho,
                    vecs: v0..v0 + cv,
                    taps: t0..(t0 + chunk).min(r),
                });
            }
        }
        jobs
    } else {
        // Many pixels: split the pixels into bands of about 2048; each task covers every output.
        let band = 2048usize.div_ceil(wo).max(1);
        let bands = ho.div_ceil(band);
        (0..g.n * bands)
            .map(|t| Job {
                imgs: t / bands..t / bands + 1,
                rows: (t % bands) * band..((t % bands + 1) * band).min(ho),
                vecs: 0..vectors,
                taps: 0..r,
            })
            .collect()
    };
    let kernel = pick(simd(), (cv, tr));
    let partials: Vec<crate::tensor::recycler::Scratch> = jobs
        .par_iter()
        .map(|job| {
            let mut part = crate::tensor::recycler::Scratch::zeroed(g.cout * job.taps.len());
            // SAFETY: the kernel's features were detected at run time.
            unsafe { kernel(&plan, &xp, &dyt, job, &mut part) };
            part
        })
        .collect();
    dw.fill(0.0);
    for (job, part) in jobs.iter().zip(&partials) {
        let nt = job.taps.len();
        for co in job.vecs.start * L..(job.vecs.end * L).min(g.cout) {
            let dst = &mut dw[co * r + job.taps.start..][..nt];
            for (d, v) in dst.iter_mut().zip(&part[co * nt..(co + 1) * nt]) {
                *d += v;
            }
        }
    }
}

/// Problems with at most this many pixels (N·Ho·Wo) split the output instead of the pixels.
const SMALL_PIXELS: usize = 8192;
/// The register tile (channel vectors, taps) for this instruction set, chosen by measurement
/// (`cargo bench --bench ops -- conv2d/bwd_weight`, 2-core AMD EPYC, this session's shapes).
/// A 16-lane vector is one zmm register with AVX-512: 2 × 6 accumulators ran 1.3–1.8× faster
/// than 2 × 12 and 4 × 4. With AVX2 it is two ymm of 16 registers: 1 × 4 (8 accumulators) ran
/// 1.3–1.6× faster than the AVX-512 tile (which spills) and than 1 × 3 or 2 × 4. Portable: four
/// xmm, 1 × 2 (1.1–1.7× faster than the old 2 × 12). With one channel vector (16 output
/// channels) on an Intel core, 1 × 12 runs 10–20 % faster than 1 × 6, whose six accumulators
/// are too few to hide the FMA latency on two full-width FMA ports (2-core Intel Xeon; 2 × 10
/// and 4 × 6 were no better than 2 × 6 for more channels). Some shapes make the compiler keep
/// the accumulators in memory and run 3–20× slower (2 × 8 and 1 × 16 with AVX-512, 1 × 6 with
/// AVX2): measure before changing a tile.
fn tile_for(kind: Simd, cout: usize) -> (usize, usize) {
    match kind {
        Simd::Avx512 if cout > L => (2, 6),
        Simd::Avx512 if super::simd::intel() => (1, 12),
        Simd::Avx512 => (1, 6),
        Simd::Avx2 => (1, 4),
        Simd::Portable => (1, 2),
    }
}

type Kernel = unsafe fn(&Plan, &[f32], &[f32], &Job, &mut [f32]);
simd_variant!(job_avx512, "avx512f,fma", true, run_job<CV, TR>(p: &Plan, x: &[f32], dyt: &[f32], job: &Job, dw: &mut [f32]));
simd_variant!(job_avx2, "avx2,fma", true, run_job<CV, TR>(p: &Plan, x: &[f32], dyt: &[f32], job: &Job, dw: &mut [f32]));
simd_variant!(job_portable, "sse2", false, run_job<CV, TR>(p: &Plan, x: &[f32], dyt: &[f32], job: &Job, dw: &mut [f32]));

/// The body for one tile.
fn pick(kind: Simd, tile: (usize, usize)) -> Kernel {
    macro_rules! pick {
        ($cv:literal, $tr:literal) => {
            match kind {
                Simd::Avx512 => job_avx512::<$cv, $tr> as Kernel,
                Simd::Avx2 => job_avx2::<$cv, $tr> as Kernel,
                Simd::Portable => job_portable::<$cv, $tr> as Kernel,
            }
        };
    }
    match tile {
        (2, 6) => pick!(2, 6),
        (1, 12) => pick!(1, 12),
        (1, 6) => pick!(1, 6),
        (1, 4) => pick!(1, 4),
        (1, 2) => pick!(1, 2),
        other => unreachable!("no weight-gradient kernel for tile {other:?}"),
    }
}

/// One job into its private `dw` ([Cout][job.taps]).
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
    let (x_img, d_img) = (p.cin * p.hp * p.wp, p.ho * p.wo * p.cop);
    let nt = job.taps.len();
    assert!(x.len() >= job.imgs.end * x_img && dyt.len() >= job.imgs.end * d_img);
    assert!(job.rows.end <= p.ho && p.hp + 1 >= p.ho + p.kh && p.wp + 1 >= p.wo + p.kw);
    assert!(job.taps.end <= r_total && nt > 0 && dw.len() >= p.cout * nt);
    assert!(p.cop.is_multiple_of(CV * L) && job.vecs.end * L <= p.cop);
    let (xptr, dptr) = (x.as_ptr(), dyt.as_ptr());
    let mut cv0 = job.vecs.start;
    while cv0 < job.vecs.end && cv0 * L < p.cout {
        let mut r0 = job.taps.start;
        while r0 < job.taps.end {
            // Offsets of this tile's taps in an image; taps past the job's end repeat its last
            // one (a fixed trip count keeps the accumulators in registers) and are never stored.
            let off: [usize; TR] = std::array::from_fn(|t| {
                let r = (r0 + t).min(job.taps.end - 1);
                let (ci, k) = (r / taps, r % taps);
                (ci * p.hp + k / p.kw) * p.wp + k % p.kw
            });
            let mut acc = [[[0f32; L]; CV]; TR];
            for img in job.imgs.clone() {
                let (ximg, dimg) = (img * x_img, img * d_img);
                for oh in job.rows.clone() {
                    for ow in 0..p.wo {
                        let px = oh * p.wo + ow;
                        // SAFETY: cop is a multiple of CV·L and (cv0 + CV)·L ≤ cop (asserted), so
                        // every load is inside this pixel's row of dyT.
                        let d: [Lanes; CV] = std::array::from_fn(|c| unsafe {
                            std::ptr::read_unaligned(
                                dptr.add(dimg + px * p.cop + (cv0 + c) * L) as *const Lanes
                            )
                        });
                        let shift = ximg + oh * p.wp + ow;
                        for (t, a) in acc.iter_mut().enumerate() {
                            // SAFETY: oh + kh < hp and ow + kw < wp (asserted): inside image img.
                            let xv = unsafe { *xptr.add(off[t] + shift) };
                            for c in 0..CV {
                                for l in 0..L {
                                    a[c][l] = fma::<F>(xv, d[c][l], a[c][l]);
                                }
                            }
                        }
                    }
                }
            }
            for (t, a) in acc.iter().enumerate().take(job.taps.end - r0) {
                for (c, lanes) in a.iter().enumerate() {
                    for (l, &v) in lanes.iter().enumerate() {
                        let co = (cv0 + c) * L + l;
                        if co < p.cout {
                            dw[co * nt + r0 - job.taps.start + t] += v;
                        }
                    }
                }
            }
            r0 += TR;
        }
        cv0 += CV;
    }
}
