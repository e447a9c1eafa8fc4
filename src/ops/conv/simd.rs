//! What the CPU convolution kernels share: the 16-lane vector type, run-time choice of the
//! instruction set (AVX-512F+FMA, AVX2+FMA or portable; `COIN_CPU_PORTABLE=1` forces the
//! portable code, which CI also tests), and the macro that compiles one kernel body per set.

use std::sync::OnceLock;

pub(super) const L: usize = 16;
pub(super) type Lanes = [f32; L];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Simd {
    Avx512,
    Avx2,
    Portable,
}

pub(super) fn simd() -> Simd {
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
pub(super) fn fma<const F: bool>(a: f32, b: f32, c: f32) -> f32 {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// A raw pointer that may cross threads; every use writes a region no other task touches.
#[derive(Clone, Copy)]
pub(super) struct SendPtr(pub(super) *mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    pub(super) fn get(self) -> *mut f32 {
        self.0
    }
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

pub(super) use simd_variant;
