//! A checked GEMM, `dst = (accumulate ? dst : 0) + lhs · rhs` with arbitrary row/column strides
//! (so transposes are free): the packed AVX-512 kernel of `packed.rs` on AVX-512 hosts, the
//! `gemm` crate elsewhere (and under `COIN_CPU_ISA=avx2|portable`).
//!
//! Determinism: `gemm` splits the output into tiles and each tile's k-loop runs on one thread in
//! a fixed order, so for a fixed thread count the result is reproducible run to run.

/// A strided matrix view: element (i, j) at `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
    fn check(&self) {
        if self.rows > 0 && self.cols > 0 {
            let last = (self.rows - 1) * self.rs + (self.cols - 1) * self.cs;
            assert!(last < self.data.len(), "gemm operand out of bounds");
        }
    }
}

/// `dst[m×n] (+)= lhs[m×k] · rhs[k×n]`, `dst` row-major with row stride `dst_rs`.
pub(crate) fn gemm(
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: MatRef,
    rhs: MatRef,
    parallel: bool,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "gemm inner dimensions");
    lhs.check();
    rhs.check();
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        (m - 1) * dst_rs + n - 1 < dst.len(),
        "gemm destination out of bounds"
    );
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[i * dst_rs..i * dst_rs + n].fill(0.0);
            }
        }
        return;
    }
    if super::packed::available() {
        super::packed::gemm(dst, dst_rs, accumulate, lhs, rhs, parallel);
        return;
    }
    let par = if parallel && rayon::current_num_threads() > 1 {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: every index the kernel touches lies inside the slices (checked above); dst does
    // not alias lhs or rhs (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}
