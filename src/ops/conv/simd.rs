//! What the CPU convolution kernels share: the 16-lane vector type, run-time choice of the
//! instruction set (AVX-512F+FMA, AVX2+FMA or portable), and the macro that compiles one kernel
//! body per set. `COIN_CPU_ISA=avx512|avx2|portable` forces a set (CI tests the CPU backend
//! under each one the host has; a set the host lacks falls back to the best it has, with a
//! warning); `COIN_CPU_PORTABLE=1` is the older spelling of `COIN_CPU_ISA=portable`.

use std::sync::OnceLock;

pub(crate) const L: usize = 16;
pub(crate) type Lanes = [f32; L];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Simd {
    Avx512,
    Avx2,
    Portable,
}

/// The best set this host runs.
fn detected() -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
            return Simd::Avx512;
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Simd::Avx2;
        }
    }
    Simd::Portable
}

/// The set asked for by `COIN_CPU_ISA` (or `COIN_CPU_PORTABLE`), if any.
fn requested() -> Option<Simd> {
    if std::env::var_os("COIN_CPU_PORTABLE").is_some() {
        return Some(Simd::Portable);
    }
    let v = std::env::var("COIN_CPU_ISA").ok()?;
    match v.to_ascii_lowercase().as_str() {
        "avx512" | "avx-512" => Some(Simd::Avx512),
        "avx2" => Some(Simd::Avx2),
        "portable" | "scalar" => Some(Simd::Portable),
        "" | "auto" => None,
        other => {
            eprintln!("WARNING: COIN_CPU_ISA={other} is not avx512, avx2 or portable; ignored");
            None
        }
    }
}

fn rank(s: Simd) -> u8 {
    match s {
        Simd::Portable => 0,
        Simd::Avx2 => 1,
        Simd::Avx512 => 2,
    }
}

pub(crate) fn simd() -> Simd {
    static KIND: OnceLock<Simd> = OnceLock::new();
    *KIND.get_or_init(|| {
        let host = detected();
        match requested() {
            Some(r) if rank(r) <= rank(host) => r,
            Some(r) => {
                eprintln!(
                    "WARNING: COIN_CPU_ISA asks for {r:?}, which this CPU lacks; using {host:?}"
                );
                host
            }
            None => host,
        }
    })
}

/// True on an Intel CPU (CPUID vendor "GenuineIntel"): some register tiles are chosen per vendor,
/// because AMD's Zen 4 runs a 512-bit FMA as two 256-bit halves and Intel's cores do not.
pub(crate) fn intel() -> bool {
    static INTEL: OnceLock<bool> = OnceLock::new();
    *INTEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            // CPUID leaf 0 exists on every x86-64 CPU.
            let r = std::arch::x86_64::__cpuid(0);
            let vendor: Vec<u8> = [r.ebx, r.edx, r.ecx]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            vendor == b"GenuineIntel"
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
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
// SAFETY: a SendPtr is only dereferenced by the task that owns the region it points into (the
// kernels split their output into disjoint per-task regions), so sharing it races on nothing.
unsafe impl Send for SendPtr {}
// SAFETY: as Send: no two tasks write the same element through it.
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
        // SAFETY (callers): only called after `simd()` detected $features at run time.
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
