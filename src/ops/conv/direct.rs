//! Direct stride-1 convolution on the CPU, f32, NCHW — the fast path for the 3×3 and 1×1
//! convolutions that dominate COIN's networks. No column buffer: the input is copied once into a
//! zero-padded buffer and every output row is computed from it in registers.
//!
//! - Forward (and backward-data, which is a stride-1 forward of the output gradient with
//!   transposed, flipped weights and padding K−1−p): a task is one (image, band of output
//!   rows) — the whole map unless the image's padded input overflows half of L2 (`band_rows`) —
//!   and runs every block of CB output channels over its band in turn, so all blocks but the
//!   first read the band's input from L2 (with too few images and bands for the threads, the
//!   blocks are split into groups, a task per group). A block walks the band in tiles of NV×16
//!   columns (S/NV rows), holding CB×S vectors of 16 accumulators; per (input channel, kh, kw)
//!   it loads S input vectors, broadcasts CB weights (packed `[block][ci][kh][kw][CB]`) and issues CB×S fused
//!   multiply-adds. The tile depends on the instruction set's register count (`tile_for`).
//!   While it computes a row block it prefetches the input rows of the next one into L2.
//! - Backward-weight (K = 1 or 3): a task is one (image, band of rows); per (input channel, kh,
//!   block of CB output channels) it keeps CB×K vector accumulators over the whole band, then
//!   reduces lanes into the task's private dW. Private dWs are summed in task order.
//! - SIMD: the bodies are plain Rust over `[f32; 16]` lanes, compiled three times — with
//!   AVX-512F+FMA, with AVX2+FMA, and portable — and chosen once at run time.
//! - Determinism: every output is summed in a fixed order that does not depend on the thread
//!   count (the row bands of backward-weight are fixed, not per thread).

use super::ConvGeom;
use rayon::prelude::*;

use super::simd::{fma, simd, simd_variant, Lanes, SendPtr, Simd, L};

/// True when the direct kernels handle this problem.
pub(super) fn supports_forward(g: &ConvGeom) -> bool {
    g.sh == 1 && g.sw == 1 && g.wo >= 12 && g.ph < g.kh && g.pw < g.kw
}

/// Geometry of a stride-1 correlation of padded planes.
#[derive(Clone, Copy)]
pub(super) struct Plan {
    pub(super) cin: usize,
    pub(super) cout: usize,
    pub(super) k_h: usize,
    pub(super) k_w: usize,
    pub(super) hp: usize,
    pub(super) wp: usize,
    pub(super) ho: usize,
    pub(super) wo: usize,
}

/// Copies `planes` planes of `h × w` into zero-padded planes `hp × wp`, the data at (top, left);
/// borrows the input when it already has that layout (unpadded 1×1 convolutions).
pub(super) fn pad(
    x: &[f32],
    planes: usize,
    (h, w): (usize, usize),
    (top, left): (usize, usize),
    (hp, wp): (usize, usize),
) -> Padded<'_> {
    if (top, left, hp, wp) == (0, 0, h, w) {
        return Padded::InPlace(&x[..planes * h * w]);
    }
    // One pass: each padded row is written once, zeros around the copied data.
    let mut out = crate::tensor::recycler::Scratch::overwritten(planes * hp * wp);
    out.par_chunks_mut(hp * wp)
        .enumerate()
        .for_each(|(i, plane)| {
            let src = &x[i * h * w..(i + 1) * h * w];
            for (r, row) in plane.chunks_exact_mut(wp).enumerate() {
                match r.checked_sub(top).filter(|&r| r < h) {
                    Some(r) => {
                        row[..left].fill(0.0);
                        row[left..left + w].copy_from_slice(&src[r * w..(r + 1) * w]);
                        row[left + w..].fill(0.0);
                    }
                    None => row.fill(0.0),
                }
            }
        });
    Padded::Copy(out)
}

/// A padded input: the tensor itself when its layout already fits, else a pooled copy.
pub(super) enum Padded<'a> {
    InPlace(&'a [f32]),
    Copy(crate::tensor::recycler::Scratch),
}

impl std::ops::Deref for Padded<'_> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            Padded::InPlace(s) => s,
            Padded::Copy(v) => v,
        }
    }
}

/// Most output channels in one register tile.
const MAX_CB: usize = 6;

/// A forward register tile: `cb` output channels × `s` vector slots, `nv` of them along a row
/// (so `s / nv` rows).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Tile {
    cb: usize,
    s: usize,
    nv: usize,
}

/// The forward tile for this instruction set, output channel count and row length, chosen by
/// measurement (`cargo bench --bench ops -- conv2d/fwd`, 2-core AMD EPYC and 2-core Intel Xeon).
/// A 16-lane slot is one zmm register with AVX-512 (32 registers: 4 × 4 accumulators + 4
/// inputs; on AMD 6 × 4 and 6 × 2 were slower; on Intel 6 × 2 is 10–15 % faster for rows of up
/// to 32 outputs with 48+ output channels — fewer loads per FMA —, 6 × 4 slower); two ymm with
/// AVX2 (16 registers: 6 × 1 = 12 accumulators + 2 inputs +
/// the broadcast weight, 1.6–2.3× faster than the AVX-512 tile, which spills); four xmm when
/// portable (1 × 2). Some tiles make the compiler keep the accumulators in memory and run 10×
/// slower (4 × 1 and 2 × 2 with AVX2, 8 × 2 with AVX-512): measure before changing one.
fn tile_for(kind: Simd, cout: usize, wo: usize) -> Tile {
    let one_vector = wo <= L;
    match kind {
        Simd::Avx512 => {
            let cb = if cout >= 4 { 4 } else { 1 };
            // Rows of one or two vectors: six channels on Intel when there are enough of them.
            let cb_short = if cout >= 48 && super::simd::intel() {
                6
            } else {
                cb
            };
            match wo.div_ceil(L) {
                1 => Tile {
                    cb: cb_short,
                    s: 2,
                    nv: 1,
                },
                2 => Tile {
                    cb: cb_short,
                    s: 2,
                    nv: 2,
                },
                3 => Tile { cb, s: 2, nv: 2 },
                _ => Tile { cb, s: 4, nv: 4 },
            }
        }
        Simd::Avx2 if cout >= 6 => Tile { cb: 6, s: 1, nv: 1 },
        Simd::Avx2 | Simd::Portable if one_vector => Tile { cb: 1, s: 2, nv: 1 },
        Simd::Avx2 | Simd::Portable => Tile { cb: 1, s: 2, nv: 2 },
    }
}

/// A stride-1 correlation: `n` images of `cin` planes `h × w`, `cout` filters `kh × kw`, zero
/// padding (`ph`, `pw`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Correlation {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub ph: usize,
    pub pw: usize,
}

impl Correlation {
    /// The forward convolution of `g` (stride 1).
    pub(super) fn forward(g: &super::ConvGeom) -> Correlation {
        Correlation {
            n: g.n,
            cin: g.cin,
            h: g.h,
            w: g.w,
            cout: g.cout,
            kh: g.kh,
            kw: g.kw,
            ph: g.ph,
            pw: g.pw,
        }
    }
    /// The input gradient of `g` (stride 1): gy correlated with the flipped, transposed
    /// weights, padded by k − 1 − p.
    pub(super) fn backward_data(g: &super::ConvGeom) -> Correlation {
        Correlation {
            n: g.n,
            cin: g.cout,
            h: g.ho,
            w: g.wo,
            cout: g.cin,
            kh: g.kh,
            kw: g.kw,
            ph: g.kh - 1 - g.ph,
            pw: g.kw - 1 - g.pw,
        }
    }
}

/// `y[n][co][oh][ow] = Σ w[co][ci][kh][kw] · x[n][ci][oh+kh−ph][ow+kw−pw]` (+ bias), stride 1.
/// `w` is OIHW. Writes every element of `y` (N × Cout × Ho × Wo).
pub(super) fn correlate(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    c: &Correlation,
    y: &mut [f32],
) {
    let Correlation {
        n,
        cin,
        h,
        w: wd,
        cout,
        kh,
        kw,
        ph,
        pw,
    } = *c;
    let ho = h + 2 * ph + 1 - kh;
    let wo = wd + 2 * pw + 1 - kw;
    let t = tile_for(simd(), cout, wo);
    let (cb, nv) = (t.cb, t.nv);
    let rh = t.s / t.nv;
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
    let blocks = cout.div_ceil(cb);
    // Packed weights [block][ci][kh][kw][cb], zero where the block runs past Cout.
    let taps = kh * kw;
    let mut wpk = crate::tensor::recycler::zeroed(blocks * cin * taps * cb);
    for co in 0..cout {
        let (b, j) = (co / cb, co % cb);
        for ci in 0..cin {
            for t in 0..taps {
                wpk[((b * cin + ci) * taps + t) * cb + j] = w[(co * cin + ci) * taps + t];
            }
        }
    }
    assert!(y.len() >= n * cout * ho * wo, "correlate: output too short");
    let yp = SendPtr(y.as_mut_ptr());
    let kernel = pick_fwd(simd(), t);
    let band = band_rows(cin * wp, kh, rh, ho);
    let bands = ho.div_ceil(band);
    let biases: Vec<[f32; MAX_CB]> = (0..blocks)
        .map(|b| {
            std::array::from_fn(|j| match bias {
                Some(bv) if b * cb + j < cout && j < cb => bv[b * cb + j],
                _ => 0.0,
            })
        })
        .collect();
    // Blocks are split into groups only when images × bands leave the threads too few tasks
    // (one image, say); the split does not change any output's arithmetic.
    let groups = (4 * rayon::current_num_threads())
        .div_ceil(n * bands)
        .clamp(1, blocks);
    let per_group = blocks.div_ceil(groups);
    (0..n * bands * groups).into_par_iter().for_each(|task| {
        let (img, band_i, group) = (
            task / (bands * groups),
            task / groups % bands,
            task % groups,
        );
        let rows = (band_i * band, ((band_i + 1) * band).min(ho));
        let xs = &xp[img * cin * hp * wp..(img + 1) * cin * hp * wp];
        // The group's blocks over the same band of rows, so the band's input is read from L2 by
        // all but the first.
        for b in group * per_group..((group + 1) * per_group).min(blocks) {
            let ws = &wpk[b * cin * taps * cb..(b + 1) * cin * taps * cb];
            let co0 = b * cb;
            let ncb = cb.min(cout - co0);
            // SAFETY: this task writes only rows `rows` of y[img][co0 .. co0 + ncb], which no
            // other task writes; the kernel's features were detected at run time.
            unsafe {
                let out = yp.get().add((img * cout + co0) * ho * wo);
                kernel(&plan, xs, ws, &biases[b], out, ncb, rows)
            };
        }
    });
}

/// Output rows per task: all of them when the image's padded input fits in half of a 2 MB L2;
/// otherwise equal bands (multiples of the tile's `rh`) whose input — `row_floats` per padded
/// row, plus the kernel's K − 1 extra rows — takes about a quarter of it, so the channel blocks
/// after the first read the band from L2 instead of memory.
fn band_rows(row_floats: usize, kh: usize, rh: usize, ho: usize) -> usize {
    const L2_BYTES: usize = 2 << 20;
    let row_bytes = row_floats * 4;
    let all = ho.div_ceil(rh) * rh;
    if (all + kh - 1) * row_bytes <= L2_BYTES / 2 {
        return all;
    }
    let fit = (L2_BYTES / 4 / row_bytes.max(1))
        .saturating_sub(kh - 1)
        .max(rh);
    let bands = ho.div_ceil(fit);
    ho.div_ceil(bands).div_ceil(rh) * rh
}

type FwdFn = unsafe fn(&Plan, &[f32], &[f32], &[f32; MAX_CB], *mut f32, usize, (usize, usize));
simd_variant!(fwd_avx512, "avx512f,fma", true, fwd_rows<CB, S, NV>(p: &Plan, x: &[f32], w: &[f32], b: &[f32; MAX_CB], y: *mut f32, ncb: usize, rows: (usize, usize)));
simd_variant!(fwd_avx2, "avx2,fma", true, fwd_rows<CB, S, NV>(p: &Plan, x: &[f32], w: &[f32], b: &[f32; MAX_CB], y: *mut f32, ncb: usize, rows: (usize, usize)));
simd_variant!(fwd_portable, "sse2", false, fwd_rows<CB, S, NV>(p: &Plan, x: &[f32], w: &[f32], b: &[f32; MAX_CB], y: *mut f32, ncb: usize, rows: (usize, usize)));

/// The forward body for one tile on this machine.
fn pick_fwd(kind: Simd, t: Tile) -> FwdFn {
    macro_rules! pick {
        ($cb:literal, $s:literal, $nv:literal) => {
            match kind {
                Simd::Avx512 => fwd_avx512::<$cb, $s, $nv> as FwdFn,
                Simd::Avx2 => fwd_avx2::<$cb, $s, $nv> as FwdFn,
                Simd::Portable => fwd_portable::<$cb, $s, $nv> as FwdFn,
            }
        };
    }
    match (t.cb, t.s, t.nv) {
        (6, 2, 2) => pick!(6, 2, 2),
        (6, 2, 1) => pick!(6, 2, 1),
        (4, 4, 4) => pick!(4, 4, 4),
        (4, 2, 2) => pick!(4, 2, 2),
        (4, 2, 1) => pick!(4, 2, 1),
        (1, 4, 4) => pick!(1, 4, 4),
        (1, 2, 2) => pick!(1, 2, 2),
        (1, 2, 1) => pick!(1, 2, 1),
        (6, 1, 1) => pick!(6, 1, 1),
        other => unreachable!("no forward kernel for tile {other:?}"),
    }
}

/// Hints that `len` floats from `x + at` will be read soon (into L2). A hint only: it never
/// faults, so a range past the buffer's end is harmless.
#[inline(always)]
fn prefetch_row(x: *const f32, at: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        let mut i = 0;
        while i < len {
            // SAFETY: prefetching is a hint and never faults; wrapping_add computes the address
            // without asserting it is in bounds.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(x.wrapping_add(at + i) as *const i8) };
            i += L;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (x, at, len);
}

/// One block of one task of the forward: output rows `row0 .. row1` of `ncb` channels of one
/// image. A tile is `S` vector slots: `NV` consecutive vectors along a row times `S / NV`
/// consecutive rows (two rows of one vector when a row is a single vector, so there are enough
/// independent accumulators). Contract (the callers are the `unsafe` variants): `y` points at
/// the block's first channel plane, with `ncb` planes of Ho × Wo behind it, and no other thread
/// writes rows `row0 .. row1` of them meanwhile.
#[inline(always)]
fn fwd_rows<const CB: usize, const S: usize, const NV: usize, const F: bool>(
    p: &Plan,
    x: &[f32],
    w: &[f32],
    bias: &[f32; MAX_CB],
    y: *mut f32,
    ncb: usize,
    (row0, row1): (usize, usize),
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
    assert!(row0.is_multiple_of(rh) && row1 <= p.ho);
    let mut oh = row0;
    while oh < row1 {
        let mut ow0 = 0;
        while ow0 < p.wo {
            let mut acc = [[[0f32; L]; S]; CB];
            for (j, a) in acc.iter_mut().enumerate() {
                let v = if j < MAX_CB { bias[j] } else { 0.0 };
                for lanes in a.iter_mut() {
                    *lanes = [v; L];
                }
            }
            // The next row block reads rh rows below this one's: ask for them in L2 now (the
            // input of a 128² layer does not fit in L2, and the hardware prefetcher does not
            // follow one short stream per input channel).
            let next = oh + rh + p.k_h - 1;
            for ci in 0..p.cin {
                if next < p.hp {
                    prefetch_row(xptr, (ci * p.hp + next) * p.wp + ow0, tile + p.k_w - 1);
                }
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
            for r in 0..rh.min(row1 - oh) {
                for (j, a) in acc.iter().enumerate().take(ncb) {
                    // SAFETY: the caller passes `y` at channel plane 0 of this block, with `ncb`
                    // planes of ho × wo behind it, and owns rows row0..row1 of them; the row
                    // oh + r < row1 ≤ ho and the columns ow0 + i < wo.
                    let dst = unsafe {
                        std::slice::from_raw_parts_mut(
                            y.add((j * p.ho + oh + r) * p.wo + ow0),
                            valid,
                        )
                    };
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
