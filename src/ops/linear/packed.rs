//! A packed f32 GEMM with an AVX-512 register tile, for AVX-512 hosts: the `gemm` crate runs its
//! 8-lane AVX2 kernel there (its AVX-512 kernel needs a nightly compiler), and the small-map
//! convolutions of the classifier and the discriminator (im2col + GEMM) are a third of the
//! classifier's time.
//!
//! - Blocking: k in blocks of `KC`; per block, `lhs` is packed into panels of `MR` rows
//!   (`[panel][kk][MR]`, zero-padded) and `rhs` into panels of `NR` columns (`[panel][kk][NR]`,
//!   zero-padded), from any row/column strides (so transposed views cost nothing extra).
//! - Register tile: `MR` × `NR` = 12 rows × 32 columns, 24 zmm accumulators; per k, two vector
//!   loads of `rhs`, twelve broadcasts of `lhs`, 24 fused multiply-adds (intrinsics).
//! - Threads: the column panels are split among tasks; every output element belongs to one task.
//! - Determinism: each output's sum runs over k in order (blocks in order, then within the
//!   block), whatever the thread count.

use super::gemm::MatRef;
use crate::ops::conv::simd::{simd, Simd, L};
use rayon::prelude::*;

const MR: usize = 12;
const NR: usize = 2 * L;
const KC: usize = 256;

/// True when this host runs the AVX-512 kernel (else the caller uses the `gemm` crate).
pub(crate) fn available() -> bool {
    simd() == Simd::Avx512
}

/// `dst[m×n] (+)= lhs[m×k] · rhs[k×n]`, `dst` row-major with row stride `dst_rs`. Call only when
/// `available()`; the caller has checked the bounds.
pub(crate) fn gemm(
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: MatRef,
    rhs: MatRef,
    parallel: bool,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    let (mp, np) = (m.div_ceil(MR), n.div_ceil(NR));
    let mut ap = crate::tensor::recycler::Scratch::zeroed(mp * MR * KC);
    let mut bp = crate::tensor::recycler::Scratch::zeroed(np * NR * KC);
    let out = SendPtr(dst.as_mut_ptr());
    let dst_len = dst.len();
    let mut k0 = 0;
    while k0 < k {
        let kc = KC.min(k - k0);
        pack_lhs(&lhs, k0, kc, &mut ap);
        pack_rhs(&rhs, k0, kc, &mut bp, parallel);
        let add = accumulate || k0 > 0;
        let (ap, bp) = (&ap[..], &bp[..]);
        let task = |jp: usize| {
            for ip in 0..mp {
                let rows = MR.min(m - ip * MR);
                let cols = NR.min(n - jp * NR);
                let tile = Tile {
                    a: &ap[ip * MR * kc..][..MR * kc],
                    b: &bp[jp * NR * kc..][..NR * kc],
                    kc,
                    at: (ip * MR) * dst_rs + jp * NR,
                    rs: dst_rs,
                    rows,
                    cols,
                    add,
                };
                assert!(tile.at + (rows - 1) * dst_rs + cols <= dst_len);
                // SAFETY: AVX-512F was detected (`available`); the tile writes rows × cols
                // elements inside dst (asserted), and no other task writes this column panel.
                unsafe { kernel_avx512(&tile, out) };
            }
        };
        if parallel && np > 1 {
            (0..np).into_par_iter().for_each(task);
        } else {
            (0..np).for_each(task);
        }
        k0 += kc;
    }
}

/// Packs rows of `lhs` × columns `k0 .. k0 + kc` into `[panel][kk][MR]`, zeros past the last row.
fn pack_lhs(a: &MatRef, k0: usize, kc: usize, ap: &mut [f32]) {
    let m = a.rows;
    for (p, panel) in ap[..m.div_ceil(MR) * MR * kc]
        .chunks_mut(MR * kc)
        .enumerate()
    {
        for kk in 0..kc {
            for r in 0..MR {
                let i = p * MR + r;
                panel[kk * MR + r] = if i < m {
                    a.data[i * a.rs + (k0 + kk) * a.cs]
                } else {
                    0.0
                };
            }
        }
    }
}

/// Packs rows `k0 .. k0 + kc` of `rhs` into `[panel][kk][NR]`, zeros past the last column.
fn pack_rhs(b: &MatRef, k0: usize, kc: usize, bp: &mut [f32], parallel: bool) {
    let n = b.cols;
    let fill = |(p, panel): (usize, &mut [f32])| {
        let c0 = p * NR;
        let cols = NR.min(n - c0);
        for kk in 0..kc {
            let row = &mut panel[kk * NR..(kk + 1) * NR];
            let base = (k0 + kk) * b.rs + c0 * b.cs;
            if b.cs == 1 {
                row[..cols].copy_from_slice(&b.data[base..base + cols]);
            } else {
                for (j, d) in row[..cols].iter_mut().enumerate() {
                    *d = b.data[base + j * b.cs];
                }
            }
            row[cols..].fill(0.0);
        }
    };
    let used = &mut bp[..n.div_ceil(NR) * NR * kc];
    if parallel {
        used.par_chunks_mut(NR * kc).enumerate().for_each(fill);
    } else {
        used.chunks_mut(NR * kc).enumerate().for_each(fill);
    }
}

/// One register tile: packed panels, where it lands in dst, and how much of it is real.
struct Tile<'a> {
    a: &'a [f32],
    b: &'a [f32],
    kc: usize,
    at: usize,
    rs: usize,
    rows: usize,
    cols: usize,
    add: bool,
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: each task writes a disjoint set of column panels of dst.
unsafe impl Send for SendPtr {}
// SAFETY: as Send: no two tasks write the same panel.
unsafe impl Sync for SendPtr {}

/// The 12 × 32 tile with AVX-512 intrinsics (the plain-Rust lane form of the convolution
/// kernels made the compiler keep this tile's accumulators in memory).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn kernel_avx512(t: &Tile, out: SendPtr) {
    use std::arch::x86_64::*;
    assert!(t.a.len() >= MR * t.kc && t.b.len() >= NR * t.kc);
    let (ap, bp) = (t.a.as_ptr(), t.b.as_ptr());
    let z = _mm512_setzero_ps();
    let mut c = [[z; 2]; MR];
    for kk in 0..t.kc {
        // SAFETY: kk·NR + NR ≤ b.len() and kk·MR + MR ≤ a.len() (asserted above).
        let b0 = _mm512_loadu_ps(bp.add(kk * NR));
        let b1 = _mm512_loadu_ps(bp.add(kk * NR + L));
        macro_rules! row {
            ($($r:literal)*) => {$(
                let av = _mm512_set1_ps(*ap.add(kk * MR + $r));
                c[$r][0] = _mm512_fmadd_ps(av, b0, c[$r][0]);
                c[$r][1] = _mm512_fmadd_ps(av, b1, c[$r][1]);
            )*};
        }
        row!(0 1 2 3 4 5 6 7 8 9 10 11);
    }
    let mut tile = [[0f32; NR]; MR];
    for (dst, regs) in tile.iter_mut().zip(&c) {
        _mm512_storeu_ps(dst.as_mut_ptr(), regs[0]);
        _mm512_storeu_ps(dst.as_mut_ptr().add(L), regs[1]);
    }
    store(t, out, &tile);
}
#[cfg(not(target_arch = "x86_64"))]
unsafe fn kernel_avx512(_: &Tile, _: SendPtr) {
    unreachable!("the packed GEMM runs only on x86-64 hosts with AVX-512")
}

/// Writes (or adds) the real rows × cols of a finished tile into dst.
fn store(t: &Tile, out: SendPtr, tile: &[[f32; NR]; MR]) {
    for (r, vals) in tile.iter().enumerate().take(t.rows) {
        // SAFETY: the caller asserted the tile lies inside dst; tasks write disjoint column
        // panels.
        let row = unsafe { std::slice::from_raw_parts_mut(out.0.add(t.at + r * t.rs), t.cols) };
        for (d, &v) in row.iter_mut().zip(vals) {
            *d = if t.add { *d + v } else { v };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Odd sizes (partial tiles on both sides, two k blocks), transposed views and accumulation,
    /// against an f64 triple loop — through the dispatching `gemm`, so it checks the packed
    /// kernel on AVX-512 hosts and the `gemm` crate elsewhere.
    #[test]
    fn gemm_matches_naive() {
        if !available() {
            println!("note: no AVX-512 on this host; this checks the gemm crate's path");
        }
        let mut rng = crate::rng::Rng::new(11);
        for &(m, k, n, ta, tb, acc, par) in &[
            (13, 300, 70, false, false, false, true),
            (1, 5, 1, false, false, true, false),
            (40, 257, 33, true, false, true, true),
            (9, 512, 100, false, true, false, true),
            (24, 7, 64, true, true, false, false),
        ] {
            let a: Vec<f32> = rng.fill(m * k, |r| r.normal());
            let b: Vec<f32> = rng.fill(k * n, |r| r.normal());
            let lhs = if ta {
                MatRef::row_major(&a, k, m).t()
            } else {
                MatRef::row_major(&a, m, k)
            };
            let rhs = if tb {
                MatRef::row_major(&b, n, k).t()
            } else {
                MatRef::row_major(&b, k, n)
            };
            let rs = n + 3;
            let init: Vec<f32> = rng.fill(m * rs, |r| r.normal());
            let mut got = init.clone();
            super::super::gemm::gemm(&mut got, rs, acc, lhs, rhs, par);
            for i in 0..m {
                for j in 0..n {
                    let mut want: f64 = if acc { init[i * rs + j] as f64 } else { 0.0 };
                    for p in 0..k {
                        want += lhs.data[i * lhs.rs + p * lhs.cs] as f64
                            * rhs.data[p * rhs.rs + j * rhs.cs] as f64;
                    }
                    let g = got[i * rs + j] as f64;
                    assert!(
                        (g - want).abs() <= 1e-4 * (1.0 + want.abs()) * (k as f64).sqrt(),
                        "{m}x{k}x{n} ({i},{j}): {g} vs {want}"
                    );
                }
                // The padding columns of dst are untouched.
                for j in n..rs {
                    assert_eq!(got[i * rs + j], init[i * rs + j]);
                }
            }
        }
    }
}
