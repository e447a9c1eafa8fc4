//! How the GPU devices multiply in convolutions and matrix products (`linear`, `matmul`):
//! - `fp32`: FP32 FMA on the SIMT cores;
//! - `tf32`: TF32 tensor cores — each operand rounded to nearest with 10 mantissa bits (unit
//!   roundoff 2⁻¹¹), products accumulated in FP32: PyTorch's default for convolutions on a GPU
//!   (`torch.backends.cudnn.allow_tf32`);
//! - `3xtf32`: each operand split into a TF32 high part and a TF32 low part, three tensor-core
//!   products (the low·low one dropped): about FP32 accuracy for three times TF32's tensor-core
//!   instructions (its speed is not measured yet: no GPU has run the kernels).
//!
//! The setting is per thread (the thread that launches the ops; tests set it independently),
//! fp32 for both until set. The CPU devices always compute in FP32; a GPU without TF32 tensor
//! cores (before compute capability 8.0) runs the FP32 kernels whatever the setting.

use serde::{Deserialize, Serialize};
use std::cell::Cell;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Precision {
    #[default]
    #[serde(rename = "fp32")]
    Fp32,
    #[serde(rename = "tf32")]
    Tf32,
    #[serde(rename = "3xtf32")]
    Tf32x3,
}

impl Precision {
    pub const ALL: [Precision; 3] = [Precision::Fp32, Precision::Tf32, Precision::Tf32x3];

    /// The GEMM kernels' name suffix (`conv2d_fwd_f32`, `gemm_tf32`, …).
    pub fn kernel_suffix(self) -> &'static str {
        match self {
            Precision::Fp32 => "f32",
            Precision::Tf32 => "tf32",
            Precision::Tf32x3 => "3xtf32",
        }
    }

    /// This precision on a device with (`tensor_cores`) or without TF32 tensor cores: without
    /// them, FP32.
    pub fn on(self, tensor_cores: bool) -> Precision {
        if tensor_cores {
            self
        } else {
            Precision::Fp32
        }
    }

    /// The relative error bound of one product `a·b` against |a|·|b| (before accumulation):
    /// 0 for FP32, 2·2⁻¹¹ + 2⁻²² for TF32 (both operands rounded), 3·2⁻²² for 3xTF32 (the
    /// dropped low·low product and the low parts' rounding).
    pub fn product_error(self) -> f64 {
        let u = 2f64.powi(-11);
        match self {
            Precision::Fp32 => 0.0,
            Precision::Tf32 => 2.0 * u + u * u,
            Precision::Tf32x3 => 3.0 * u * u,
        }
    }

    /// The FP32 additions per product term (3xTF32 accumulates three products).
    pub fn adds_per_term(self) -> f64 {
        match self {
            Precision::Tf32x3 => 3.0,
            _ => 1.0,
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::Fp32 => "fp32",
            Precision::Tf32 => "tf32",
            Precision::Tf32x3 => "3xtf32",
        })
    }
}

thread_local! {
    static CONV: Cell<Precision> = const { Cell::new(Precision::Fp32) };
    static LINEAR: Cell<Precision> = const { Cell::new(Precision::Fp32) };
}

/// Sets this thread's GPU precision for convolutions and for matrix products.
pub fn set_gpu_precision(conv: Precision, linear: Precision) {
    CONV.with(|c| c.set(conv));
    LINEAR.with(|c| c.set(linear));
}

/// This thread's GPU precision: (convolutions, matrix products).
pub fn gpu_precision() -> (Precision, Precision) {
    (CONV.with(|c| c.get()), LINEAR.with(|c| c.get()))
}
