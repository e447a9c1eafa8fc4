//! Element types and devices.

use std::fmt;

/// Element type of a tensor. f32 is what models use; f64 serves gradient checks on the
/// reference backend; integer types hold class ids, indices and masks. (bf16 joins with the GPU
/// work: the enum is non-exhaustive so adding it breaks no caller.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    F32,
    F64,
    I64,
    U8,
}

impl DType {
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::U8 => 1,
        }
    }
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I64 => "i64",
            DType::U8 => "u8",
        };
        f.write_str(s)
    }
}

/// Where a tensor's ops run. Storage is host memory for both of today's backends:
/// - `Reference`: naive loops with f64 accumulation; the oracle every fast path is tested against.
/// - `Cpu`: the fast CPU path (rayon, GEMM-based convolution) for f32; other dtypes fall back to
///   the reference loops.
///
/// The CUDA issue adds `Emu` (the CUDA kernels run on the CPU) and `Cuda`, which is why the enum
/// is non-exhaustive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Device {
    Reference,
    #[default]
    Cpu,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Reference => f.write_str("reference"),
            Device::Cpu => f.write_str("cpu"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "cpu" | "auto" => Ok(Device::Cpu),
            "reference" | "ref" => Ok(Device::Reference),
            "emu" => Err(crate::Error::Device(
                "device 'emu': the emulated CUDA device runs the kernels through coin::gpu \
                 (tests and benchmarks); the tensor ops do not dispatch to it yet"
                    .into(),
            )),
            other if other.starts_with("cuda") => Err(crate::Error::Device(format!(
                "device '{other}': the CUDA kernels run through coin::gpu (scripts/gpu-check.sh); \
                 the tensor ops do not dispatch to CUDA yet — use 'cpu' or 'auto'"
            ))),
            other => Err(crate::Error::Device(format!(
                "unknown device '{other}': this build knows 'cpu', 'reference' and 'auto'"
            ))),
        }
    }
}
