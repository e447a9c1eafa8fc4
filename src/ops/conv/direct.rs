//! Direct stride-1 convolution on the CPU, f32, NCHW — the fast path for the 3×3 and 1×1
//! convolutions that dominate COIN's networks. No column buffer: the input is copied once into a
//! zero-padded buffer and every output row is computed from it in registers.
//!
//! - Forward (and backward-data, which is a stride-1 forward of the output gradient with
//!   transposed, flipped weights and padding K−1−p): a task is one (image, block of CB output
//!   channels); it walks the output rows in tiles of NV×16 columns, holding CB×NV vectors of 16
//!   accumulators; per (input channel, kh, kw) it loads NV input vectors, broadcasts CB weights
//!   (packed `[block][ci][kh][kw][CB]`) and issues CB×NV fused multiply-adds.
//! - Backward-weight (K = 1 or 3): a task is one (image, band of rows); per (input channel, kh,
//!   block of CB output channels) it keeps CB×K vector accumulators over the whole band, then
//!   reduces lanes into the task's private dW. Private dWs are summed in task order.
//! - SIMD: the bodies are plain Rust over `[f32; 16]` lanes, compiled three times — with
//!   AVX-512F+FMA, with AVX2+FMA, and portable — and chosen once at run time.
//! - Determinism: every output is summed in a fixed order that does not depend on the thread
//!   count (the row bands of backward-weight are fixed, not per thread).

use super::ConvGeom;
use rayon::prelude::*;
use std::borrow::Cow;
use std::sync::OnceLock;

const L: usize = 16;
type Lanes = [f32; L];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Simd {
    Avx512,
    Avx2,
    Portable,
}

fn simd() -> Simd {
    static KIND: OnceLock<Simd> = OnceLock::new();
    *KIND.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::env::var_os("COIN_CPU_PORTABLE").is_none() {
                if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
                    return Simd::Avx512;
                }
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    return Simd::Avx2;
                }
            }
        }
        Simd::Portable
    })
}

#[inline(always)]
fn fma<const F: bool>(a: f32, b: f32, c: f32) -> f32 {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// A raw pointer that may cross threads; every use writes a region no other task touches.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// True when the direct kernels handle this problem.
pub(super) fn supports_forward(g: &ConvGeom) -> bool {
    g.sh == 1 && g.sw == 1 && g.wo >= 12 && g.ph < g.kh && g.pw < g.kw
}
pub(super) fn supports_backward_weight(g: &ConvGeom) -> bool {
    g.sh == 1 && g.sw == 1 && g.wo >= 12 && g.kh == g.kw && (g.kh == 1 || g.kh == 3)
}

/// Geometry of a stride-1 correlation of padded planes.
#[derive(Clone, Copy)]
struct Plan {
    cin: usize,
    cout: usize,
    k_h: usize,
    k_w: usize,
    hp: usize,
    wp: usize,
    ho: usize,
    wo: usize,
}

/// Copies `planes` planes of `h × w` into zero-padded planes `hp × wp`, the data at (top, left);
/// borrows the input when it already has that layout (unpadded 1×1 convolutions).
fn pad(
    x: &[f32],
    planes: usize,
    (h, w): (usize, usize),
    (top, left): (usize, usize),
    (hp, wp): (usize, usize),
) -> Cow<'_, [f32]> {
    if (top, left, hp, wp) == (0, 0, h, w) {
        return Cow::Borrowed(&x[..planes * h * w]);
    }
    let mut out = vec![0f32; planes * hp * wp];
    out.par_chunks_mut(hp * wp)
        .enumerate()
        .for_each(|(i, plane)| {
            let src = &x[i * h * w..(i + 1) * h * w];
            for r in 0..h {
                plane[(r + top) * wp + left..][..w].copy_from_slice(&src[r * w..(r + 1) * w]);
            }
        });
    Cow::Owned(out)
}

fn nv_for(wo: usize) -> usize {
    match wo.div_ceil(L) {
        1 => 1,
        2 | 3 => 2,
        _ => 4,
    }
}

/// `y[n][co][oh][ow] = Σ w[co][ci][kh][kw] · x[n][ci][oh+kh−ph][ow+kw−pw]` (+ bias), stride 1.
/// `w` is OIHW. Writes every element of `y` (N × Cout × Ho × Wo).
#[allow(clippy::too_many_arguments)]
pub(super) fn correlate(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    n: usize,
    cin: usize,
    h: usize,
    wd: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    ph: usize,
    pw: usize,
    y: &mut [f32],
) {
    let ho = h + 2 * ph + 1 - kh;
    let wo = wd + 2 * pw + 1 - kw;
    let nv = nv_for(wo);
    let rh = if nv == 1 { 2 } else { 1 };
    let tile = nv * L;
    let wp = wo.div_ceil(tile) * tile + kw - 1;
    let hp = ho.div_ceil(rh) * rh + kh - 1;
    let xp = pad(x, n * cin, (h, wd), (ph, pw), (hp, wp));
    let plan = Plan {
        cin,
        cout,
        k_h: kh,
        k_w: kw,
        hp,
        wp,
        ho,
        wo,
    };
    // Blocks of 4 output channels (8 was measured slower: the compiler spills accumulators).
    let cb = if cout >= 4 { 4 } else { 1 };
    let blocks = cout.div_ceil(cb);
    // Packed weights [block][ci][kh][kw][cb], zero where the block runs past Cout.
    let taps = kh * kw;
    let mut wpk = vec![0f32; blocks * cin * taps * cb];
    for co in 0..cout {
        let (b, j) = (co / cb, co % cb);
        for ci in 0..cin {
            for t in 0..taps {
                wpk[((b * cin + ci) * taps + t) * cb + j] = w[(co * cin + ci) * taps + t];
            }
        }
    }
    let yp = SendPtr(y.as_mut_ptr());
    let kernel = pick_fwd(simd(), cb, nv);
    (0..n * blocks).into_par_iter().for_each(|task| {
        let (img, b) = (task / blocks, task % blocks);
        let xs = &xp[img * cin * hp * wp..(img + 1) * cin * hp * wp];
        let ws = &wpk[b * cin * taps * cb..(b + 1) * cin * taps * cb];
        let co0 = b * cb;
        let ncb = cb.min(cout - co0);
        let bs: [f32; 4] = std::array::from_fn(|j| {
            if j < ncb {
                bias.map_or(0.0, |bv| bv[co0 + j])
            } else {
                0.0
            }
        });
        // SAFETY: this task writes only y[img][co0 .. co0 + ncb], which no other task writes.
        let out = unsafe {
            std::slice::from_raw_parts_mut(
                yp.get().add((img * cout + co0) * ho * wo),
                ncb * ho * wo,
            )
        };
        // SAFETY: the kernel's features were detected at run time.
        unsafe { kernel(&plan, xs, ws, &bs, out, ncb) };
    });
}

/// Declares `$name`, the body `$body` compiled with `$features` (and FMA contraction) on x86-64,
/// or the portable body elsewhere. The caller checks the features at run time (`simd()`).
macro_rules! simd_variant {
    ($name:ident, $features:literal, $fma:literal, $body:ident<$($g:ident),*>($($arg:ident: $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name<$(const $g: usize),*>($($arg: $ty),*) {
            $body::<$($g,)* $fma>($($arg),*)
        }
        #[cfg(not(target_arch = "x86_64"))]
        unsafe fn $name<$(const $g: usize),*>($($arg: $ty),*) {
            $body::<$($g,)* false>($($arg),*)
        }
    };
}

type FwdFn = unsafe fn(&Plan, &[f32], &[f32], &[f32; 4], &mut [f32], usize);
simd_variant!(fwd_avx512, "avx512f,fma", true, fwd_rows<CB, S, NV>(p: &Plan, x: &[f32], w: &[f32], b: &[f32; 4], y: &mut [f32], ncb: usize));
simd_variant!(fwd_avx2, "avx2,fma", true, fwd_rows<CB, S, NV>(p: &Plan, x: &[f32], w: &[f32], b: &[f32; 4], y: &mut [f32], ncb: usize));
simd_variant!(fwd_portable, "sse2", false, fwd_rows<CB, S, NV>(p: &Plan, x: &[f32], w: &[f32], b: &[f32; 4], y: &mut [f32], ncb: usize));

/// The forward body for one (channel block, slots, vectors) shape on this machine.
fn pick_fwd(kind: Simd, cb: usize, nv: usize) -> FwdFn {
    macro_rules! pick {
        ($cb:literal, $s:literal, $nv:literal) => {
            match kind {
                Simd::Avx512 => fwd_avx512::<$cb, $s, $nv> as FwdFn,
                Simd::Avx2 => fwd_avx2::<$cb, $s, $nv> as FwdFn,
                Simd::Portable => fwd_portable::<$cb, $s, $nv> as FwdFn,
            }
        };
    }
    match (cb, nv) {
        (4, 4) => pick!(4, 4, 4),
        (4, 2) => pick!(4, 2, 2),
        (4, _) => pick!(4, 2, 1),
        (_, 4) => pick!(1, 4, 4),
        (_, 2) => pick!(1, 2, 2),
        _ => pick!(1, 2, 1),
    }
}

/// One task of the forward: every output row of `ncb` channels of one image. A tile is `S`
/// vector slots: `NV` consecutive vectors along a row times `S / NV` consecutive rows (two rows
/// of one vector when a row is a single vector, so there are enough independent accumulators).
#[inline(always)]
fn fwd_rows<const CB: usize, const S: usize, const NV: usize, const F: bool>(
    p: &Plan,
    x: &[f32],
    w: &[f32],
    bias: &[f32; 4],
    y: &mut [f32],
    ncb: usize,
) {
    let tile = NV * L;
    let rh = S / NV;
    let taps = p.k_h * p.k_w;
    assert!(S.is_multiple_of(NV) && x.len() >= p.cin * p.hp * p.wp && w.len() >= p.cin * taps * CB);
    assert!(
        p.wp >= p.wo.div_ceil(tile) * tile + p.k_w - 1
            && p.hp + 1 >= p.ho.div_ceil(rh) * rh + p.k_h
    );
    let xptr = x.as_ptr();
    let wptr = w.as_ptr();
    let slot_off: [usize; S] = std::array::from_fn(|s| (s / NV) * p.wp + (s % NV) * L);
    let mut oh = 0;
    while oh < p.ho {
        let mut ow0 = 0;
        while ow0 < p.wo {
            let mut acc = [[[0f32; L]; S]; CB];
            for (j, a) in acc.iter_mut().enumerate() {
                let v = if j < 4 { bias[j] } else { 0.0 };
                for lanes in a.iter_mut() {
                    *lanes = [v; L];
                }
            }
            for ci in 0..p.cin {
                for kh in 0..p.k_h {
                    let row = (ci * p.hp + oh + kh) * p.wp + ow0;
                    for kw in 0..p.k_w {
                        // SAFETY: every slot reads inside rows oh + kh .. oh + kh + rh of plane ci,
                        // columns < wp (asserted above: wp covers all tiles plus K − 1, and hp
                        // covers the last row block plus K − 1).
                        let xs: [Lanes; S] = std::array::from_fn(|s| unsafe {
                            std::ptr::read_unaligned(
                                xptr.add(row + kw + slot_off[s]) as *const Lanes
                            )
                        });
                        let wbase = ((ci * p.k_h + kh) * p.k_w + kw) * CB;
                        for (j, a) in acc.iter_mut().enumerate() {
                            // SAFETY: wbase + j < cin·taps·CB ≤ w.len().
                            let wv = unsafe { *wptr.add(wbase + j) };
                            for s in 0..S {
                                for l in 0..L {
                                    a[s][l] = fma::<F>(wv, xs[s][l], a[s][l]);
                                }
                            }
                        }
                    }
                }
            }
            let valid = (p.wo - ow0).min(tile);
            for r in 0..rh.min(p.ho - oh) {
                for (j, a) in acc.iter().enumerate().take(ncb) {
                    let dst = &mut y[(j * p.ho + oh + r) * p.wo + ow0..][..valid];
                    for (i, d) in dst.iter_mut().enumerate() {
                        *d = a[r * NV + i / L][i % L];
                    }
                }
            }
            ow0 += tile;
        }
        oh += rh;
    }
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
    let kernel = pick_wgrad(simd(), k);
    let partials: Vec<Vec<f32>> = jobs
        .par_iter()
        .map(|job| {
            let mut part = vec![0f32; g.cout * job.cis.len() * k * k];
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
simd_variant!(wgrad_avx512, "avx512f,fma", true, wgrad_job<K>(p: &Plan, x: &[f32], dy: &[f32], job: &WJob, dw: &mut [f32]));
simd_variant!(wgrad_avx2, "avx2,fma", true, wgrad_job<K>(p: &Plan, x: &[f32], dy: &[f32], job: &WJob, dw: &mut [f32]));
simd_variant!(wgrad_portable, "sse2", false, wgrad_job<K>(p: &Plan, x: &[f32], dy: &[f32], job: &WJob, dw: &mut [f32]));

fn pick_wgrad(kind: Simd, k: usize) -> WgradFn {
    macro_rules! pick {
        ($k:literal) => {
            match kind {
                Simd::Avx512 => wgrad_avx512::<$k> as WgradFn,
                Simd::Avx2 => wgrad_avx2::<$k> as WgradFn,
                Simd::Portable => wgrad_portable::<$k> as WgradFn,
            }
        };
    }
    if k == 3 {
        pick!(3)
    } else {
        pick!(1)
    }
}

/// One task: input channels in fours for 1×1 kernels (a remainder singly), singly for 3×3;
/// output channels in blocks of 4 (8 was measured slower: accumulators spill).
#[inline(always)]
fn wgrad_job<const K: usize, const F: bool>(
    p: &Plan,
    x: &[f32],
    dy: &[f32],
    job: &WJob,
    dw: &mut [f32],
) {
    let mut ci = job.cis.start;
    if K == 1 {
        while ci + 4 <= job.cis.end {
            wgrad_block::<K, 4, 4, F>(p, x, dy, job, ci, dw);
            ci += 4;
        }
    }
    while ci < job.cis.end {
        wgrad_block::<K, 4, 1, F>(p, x, dy, job, ci, dw);
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
