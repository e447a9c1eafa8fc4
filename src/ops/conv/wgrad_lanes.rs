//! The weight gradient of a stride-1 convolution on the CPU, f32, vectorised along output rows:
//! for 1×1 and 3×3 kernels, and for layers with few output channels (where the channel-vector
//! kernel of `wgrad_outer.rs` would leave lanes empty).
//!
//! Per (kh, block of CB output channels, input channels) it keeps `CB × CIB × K` vector
//! accumulators over a task's pixels and reduces their lanes once, pairwise, at the end.
//! Large maps: one task per (image, band of 16 rows) over every input channel; the private
//! buffers are summed in task order. Small maps (≤ 1024 outputs per plane), where per-band
//! lane reductions would cost as much as the multiply-adds: one task per pair of input channels
//! over every image and row. Deterministic for any thread count.

use super::direct::{pad, Plan};
use super::simd::{fma, simd, simd_variant, Lanes, Simd, L};
use super::ConvGeom;
use rayon::prelude::*;

/// True when this kernel handles the problem.
pub(super) fn supports(g: &ConvGeom) -> bool {
    g.sh == 1 && g.sw == 1 && g.wo >= 12 && g.kh == g.kw && (g.kh == 1 || g.kh == 3)
}

/// What one backward-weight task sums: images × rows, for a range of input channels, into a
/// private `[Cout][cis][K][K]` buffer.
#[derive(Clone)]
struct WJob {
    imgs: std::ops::Range<usize>,
    rows: std::ops::Range<usize>,
    cis: std::ops::Range<usize>,
}

/// `dw[co][ci][kh][kw] = Σ_n Σ_oh,ow dy[n][co][oh][ow] · x[n][ci][oh+kh−p][ow+kw−p]`, stride 1,
/// square K ∈ {1, 3}. Overwrites `dw` (Cout × Cin × K × K).
///
/// Large maps: one task per (image, band of 16 rows) over every input channel; the private
/// buffers are summed in task order. Small maps (≤ 1024 outputs per plane), where per-band lane
/// reductions would cost as much as the multiply-adds: one task per pair of input channels over
/// every image and row, so each accumulator is reduced once.
pub(super) fn weight_grad(dy: &[f32], x: &[f32], g: &ConvGeom, dw: &mut [f32]) {
    let k = g.kh;
    let (ho, wo) = (g.ho, g.wo);
    let wop = wo.div_ceil(L) * L;
    let wp = wop + k - 1;
    let hp = g.h + 2 * g.ph;
    let xp = pad(x, g.n * g.cin, (g.h, g.w), (g.ph, g.pw), (hp, wp));
    // Output gradient padded with zero columns to whole vectors (zeros contribute nothing).
    let dyp = pad(dy, g.n * g.cout, (ho, wo), (0, 0), (ho, wop));
    let plan = Plan {
        cin: g.cin,
        cout: g.cout,
        k_h: k,
        k_w: k,
        hp,
        wp,
        ho,
        wo: wop,
    };
    const BAND: usize = 16;
    let small = ho * wop <= 1024;
    let jobs: Vec<WJob> = if small {
        (0..g.cin.div_ceil(2))
            .map(|c| WJob {
                imgs: 0..g.n,
                rows: 0..ho,
                cis: 2 * c..(2 * c + 2).min(g.cin),
            })
            .collect()
    } else {
        let bands = ho.div_ceil(BAND);
        (0..g.n * bands)
            .map(|t| {
                let (img, b) = (t / bands, t % bands);
                WJob {
                    imgs: img..img + 1,
                    rows: b * BAND..((b + 1) * BAND).min(ho),
                    cis: 0..g.cin,
                }
            })
            .collect()
    };
    let kernel = pick_wgrad(simd(), k, g.cout);
    let partials: Vec<crate::tensor::recycler::Scratch> = jobs
        .par_iter()
        .map(|job| {
            let mut part = crate::tensor::recycler::Scratch::zeroed(g.cout * job.cis.len() * k * k);
            // SAFETY: the kernel's features were detected at run time.
            unsafe { kernel(&plan, &xp, &dyp, job, &mut part) };
            part
        })
        .collect();
    dw.fill(0.0);
    let kk = k * k;
    for (job, part) in jobs.iter().zip(&partials) {
        let nc = job.cis.len();
        for co in 0..g.cout {
            for (j, ci) in job.cis.clone().enumerate() {
                let src = &part[(co * nc + j) * kk..][..kk];
                for (d, v) in dw[(co * g.cin + ci) * kk..][..kk].iter_mut().zip(src) {
                    *d += v;
                }
            }
        }
    }
}

type WgradFn = unsafe fn(&Plan, &[f32], &[f32], &WJob, &mut [f32]);
simd_variant!(wgrad_avx512, "avx512f,fma", true, wgrad_job<K, CB, CIB>(p: &Plan, x: &[f32], dy: &[f32], job: &WJob, dw: &mut [f32]));
simd_variant!(wgrad_avx2, "avx2,fma", true, wgrad_job<K, CB, CIB>(p: &Plan, x: &[f32], dy: &[f32], job: &WJob, dw: &mut [f32]));
simd_variant!(wgrad_portable, "sse2", false, wgrad_job<K, CB, CIB>(p: &Plan, x: &[f32], dy: &[f32], job: &WJob, dw: &mut [f32]));

/// The body for kernel size `k` and `cout` output channels on this instruction set: blocks of
/// CB output channels × CIB input channels (1×1 only; 3×3 takes input channels singly) × K
/// vector accumulators. Chosen by measurement (`cargo bench --bench ops -- conv2d/bwd_weight`,
/// 2-core AMD EPYC): 3×3 with 4+ output channels, CB 4 on every set; with fewer, CB 2 (a
/// block computes all CB rows, so CB 4 would do up to 4× the work); 1×1, CB 4 × CIB 4 with
/// AVX-512 (16 of 32 zmm) and CB 4 × CIB 2 with AVX2 and portable (whose vectors are two ymm or
/// four xmm). Some blocks make the compiler keep the accumulators in memory (8 × 1 ran 20×
/// slower with AVX-512): measure before changing one.
fn pick_wgrad(kind: Simd, k: usize, cout: usize) -> WgradFn {
    macro_rules! pick {
        ($f:ident) => {
            match (k, cout >= 4, kind) {
                (3, true, _) => $f::<3, 4, 1> as WgradFn,
                (3, false, _) => $f::<3, 2, 1> as WgradFn,
                (_, _, Simd::Avx512) => $f::<1, 4, 4> as WgradFn,
                _ => $f::<1, 4, 2> as WgradFn,
            }
        };
    }
    match kind {
        Simd::Avx512 => pick!(wgrad_avx512),
        Simd::Avx2 => pick!(wgrad_avx2),
        Simd::Portable => pick!(wgrad_portable),
    }
}

/// One task: input channels in groups of CIB (a remainder singly), output channels in blocks
/// of CB.
#[inline(always)]
fn wgrad_job<const K: usize, const CB: usize, const CIB: usize, const F: bool>(
    p: &Plan,
    x: &[f32],
    dy: &[f32],
    job: &WJob,
    dw: &mut [f32],
) {
    let mut ci = job.cis.start;
    if CIB > 1 {
        while ci + CIB <= job.cis.end {
            wgrad_block::<K, CB, CIB, F>(p, x, dy, job, ci, dw);
            ci += CIB;
        }
    }
    while ci < job.cis.end {
        wgrad_block::<K, CB, 1, F>(p, x, dy, job, ci, dw);
        ci += 1;
    }
}

/// dW for input channels `ci0 .. ci0 + CIB` over the job's images and rows: `CB × CIB × K`
/// vector accumulators per (kh, block of output channels), lanes reduced pairwise at the end.
#[inline(always)]
fn wgrad_block<const K: usize, const CB: usize, const CIB: usize, const F: bool>(
    p: &Plan,
    x: &[f32],
    dy: &[f32],
    job: &WJob,
    ci0: usize,
    dw: &mut [f32],
) {
    let nvec = p.wo / L;
    let (xs_img, dy_img) = (p.cin * p.hp * p.wp, p.cout * p.ho * p.wo);
    let nc = job.cis.len();
    assert!(x.len() >= job.imgs.end * xs_img && dy.len() >= job.imgs.end * dy_img);
    assert!(ci0 + CIB <= job.cis.end && ci0 >= job.cis.start && dw.len() >= p.cout * nc * K * K);
    assert!(job.rows.end <= p.ho && p.wp >= p.wo + K - 1 && p.hp + 1 >= p.ho + K);
    let (xptr, dptr) = (x.as_ptr(), dy.as_ptr());
    for kh in 0..K {
        let mut co0 = 0;
        while co0 < p.cout {
            let ncb = CB.min(p.cout - co0);
            let mut acc = [[[[0f32; L]; K]; CIB]; CB];
            for img in job.imgs.clone() {
                for oh in job.rows.clone() {
                    for v in 0..nvec {
                        // SAFETY: row start + v·L + kw + L ≤ row start + wo + K − 1 ≤ row end,
                        // inside image `img` (asserted above).
                        let xs: [[Lanes; K]; CIB] = std::array::from_fn(|c| {
                            let xrow = img * xs_img + ((ci0 + c) * p.hp + oh + kh) * p.wp + v * L;
                            std::array::from_fn(|kw| unsafe {
                                std::ptr::read_unaligned(xptr.add(xrow + kw) as *const Lanes)
                            })
                        });
                        // Every one of the CB accumulators is updated (a fixed trip count keeps
                        // them in registers); rows past Cout re-read the last channel and are
                        // never stored.
                        for (j, a) in acc.iter_mut().enumerate() {
                            let co = (co0 + j).min(p.cout - 1);
                            // SAFETY: co < cout, oh < ho, v·L + L ≤ wo: inside dy.
                            let d: Lanes = unsafe {
                                std::ptr::read_unaligned(
                                    dptr.add(img * dy_img + (co * p.ho + oh) * p.wo + v * L)
                                        as *const Lanes,
                                )
                            };
                            for c in 0..CIB {
                                for kw in 0..K {
                                    for l in 0..L {
                                        a[c][kw][l] = fma::<F>(d[l], xs[c][kw][l], a[c][kw][l]);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for (j, a) in acc.iter().enumerate().take(ncb) {
                for (c, ac) in a.iter().enumerate() {
                    for (kw, lanes) in ac.iter().enumerate() {
                        // Fixed-order lane reduction (pairwise).
                        let mut s = *lanes;
                        let mut width = L / 2;
                        while width > 0 {
                            for l in 0..width {
                                s[l] += s[l + width];
                            }
                            width /= 2;
                        }
                        let ci = ci0 + c - job.cis.start;
                        dw[(((co0 + j) * nc + ci) * K + kh) * K + kw] += s[0];
                    }
                }
            }
            co0 += CB;
        }
    }
}
