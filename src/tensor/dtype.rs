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

/// Where a tensor's ops run:
/// - `Reference`: naive loops with f64 accumulation; the oracle every fast path is tested against.
/// - `Cpu`: the fast CPU path (rayon, GEMM-based convolution) for f32; other dtypes fall back to
///   the reference loops.
/// - `Emu` / `Cuda(n)`: the CUDA kernels, emulated on the CPU or on GPU n. f32 values live in
///   device memory; ops without a kernel (and other dtypes) run the reference loops on values
///   read back from the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Device {
    Reference,
    #[default]
    Cpu,
    /// The CUDA kernels on the emulated device (CPU).
    Emu,
    /// The CUDA kernels on GPU `n`.
    Cuda(u8),
}

impl Device {
    /// True for the devices that run the CUDA kernels.
    pub fn is_gpu(self) -> bool {
        matches!(self, Device::Emu | Device::Cuda(_))
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Reference => f.write_str("reference"),
            Device::Cpu => f.write_str("cpu"),
            Device::Emu => f.write_str("emu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            // `auto` here is the CPU; the binaries probe for a GPU first (gpu::probe).
            "cpu" | "auto" => Ok(Device::Cpu),
            "reference" | "ref" => Ok(Device::Reference),
            "emu" => Ok(Device::Emu),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            other if other.starts_with("cuda:") || other.starts_with("gpu:") => other
                .split_once(':')
                .and_then(|(_, n)| n.parse::<u8>().ok())
                .map(Device::Cuda)
                .ok_or_else(|| crate::Error::Device(format!("bad CUDA device '{other}' (cuda:N)"))),
            other => Err(crate::Error::Device(format!(
                "unknown device '{other}': this build knows auto, cpu, cuda[:N] (or gpu[:N]), \
                 reference (ref) and emu"
            ))),
        }
    }
}
