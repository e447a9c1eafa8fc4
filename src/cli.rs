//! What every binary shares with its user: the `--device` argument (parsed once, probed before
//! any work), the exit codes, and one-line failures. Binaries call [`main`] with their work.
//!
//! Exit codes, the same in every binary: 0 done, 1 failed, 2 bad usage or an unusable device,
//! 3 nothing selected (`segment --allow-empty` turns 3 into 0).

use crate::gpu::{self, Probe};
use crate::train::TrainedModel;
use crate::{Device, Error};
use std::path::PathBuf;

/// Done.
pub const EXIT_DONE: i32 = 0;
/// The work failed (bad data, a non-finite loss, an I/O error…).
pub const EXIT_FAILED: i32 = 1;
/// Bad usage: an argument that cannot work, or a device that cannot run here.
pub const EXIT_USAGE: i32 = 2;
/// Nothing was selected to work on (no slice of a scan, say).
pub const EXIT_NOTHING: i32 = 3;

/// The exit codes as `--help` lists them.
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 done, 1 failed, 2 bad usage or unusable device, \
3 nothing selected.";

/// A binary's failure: its exit code and a one-line message.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// Bad usage (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }
    /// The work failed (exit 1).
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_FAILED,
            message: message.into(),
        }
    }
    /// Nothing selected (exit 3).
    pub fn nothing(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_NOTHING,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    /// An unusable device is bad usage; every other library error is a failure.
    fn from(e: Error) -> Failure {
        let code = match e {
            Error::Device(_) => EXIT_USAGE,
            _ => EXIT_FAILED,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

/// Runs a binary's work and exits: 0, or its failure's code after `name: message` on one line
/// of stderr (line breaks in the message are folded).
pub fn main(name: &str, work: impl FnOnce() -> Result<(), Failure>) -> ! {
    match work() {
        Ok(()) => std::process::exit(EXIT_DONE),
        Err(f) => {
            let one_line = f.message.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("{name}: {one_line}");
            std::process::exit(f.code)
        }
    }
}

/// `--device`: `auto` or a named device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceArg {
    Auto,
    Named(Device),
}

impl std::str::FromStr for DeviceArg {
    type Err = Error;
    fn from_str(s: &str) -> crate::Result<DeviceArg> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceArg::Auto),
            other => other.parse().map(DeviceArg::Named),
        }
    }
}

impl DeviceArg {
    /// The device to run on, opened before any work: `auto` takes the GPU when it can run the
    /// kernels and says on stderr what it chose and why; a named CUDA device that cannot run
    /// here (no driver, no such device, a build without kernels, a driver too old for them:
    /// [`Probe::unusable`]) is a bad-usage error naming what to do.
    pub fn open(self) -> Result<Device, Failure> {
        let d = match self {
            DeviceArg::Auto => {
                let p = gpu::probe();
                let d = p.auto_device();
                eprintln!("device: {d} ({})", auto_reason(&p));
                d
            }
            DeviceArg::Named(d) => d,
        };
        if d.is_gpu() {
            gpu::for_device(d).map_err(|e| Failure::usage(format!("--device {d}: {e}")))?;
        }
        Ok(d)
    }
}

/// `--model` and `--checkpoint`: the trained model a binary reads, the same in every binary.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelArgs {
    /// The trained model: a run folder written by `train`, or a bundle written by `export`.
    #[arg(long)]
    pub model: PathBuf,
    /// `final` (the model `train` ended with: its selection's checkpoint when it kept one, else
    /// the latest), `last` (the latest checkpoint) or a checkpoint folder / its
    /// weights.safetensors. A bundle holds only `final`.
    #[arg(long, default_value = "final")]
    pub checkpoint: String,
}

impl ModelArgs {
    /// The model `--model` and `--checkpoint` name, on `device`.
    pub fn open(&self, device: Device) -> crate::Result<TrainedModel> {
        let checkpoint = crate::train::checkpoint_arg(&self.model, &self.checkpoint)?;
        TrainedModel::open(&self.model, checkpoint.as_deref(), device)
    }
}

/// Why `auto` chose what it chose.
pub fn auto_reason(p: &Probe) -> String {
    match p.unusable(0) {
        None => format!("{} CUDA device(s) and this build's kernels", p.devices),
        Some(why) => p.auto_warning().unwrap_or(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_once_for_every_binary() {
        let named = |s: &str| s.parse::<DeviceArg>().unwrap();
        assert_eq!(named("auto"), DeviceArg::Auto);
        assert_eq!(named("cpu"), DeviceArg::Named(Device::Cpu));
        assert_eq!(named("ref"), DeviceArg::Named(Device::Reference));
        assert_eq!(named("reference"), DeviceArg::Named(Device::Reference));
        assert_eq!(named("emu"), DeviceArg::Named(Device::Emu));
        assert_eq!(named("cuda"), DeviceArg::Named(Device::Cuda(0)));
        assert_eq!(named("gpu"), DeviceArg::Named(Device::Cuda(0)));
        assert_eq!(named("gpu:1"), DeviceArg::Named(Device::Cuda(1)));
        assert_eq!(named("CUDA:2"), DeviceArg::Named(Device::Cuda(2)));
        for bad in ["tpu", "cuda:x", "gpu:", "cuda:300"] {
            assert!(bad.parse::<DeviceArg>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_unusable_cuda_device_says_why() {
        let none = Probe {
            driver: false,
            devices: 0,
            kernels: true,
            driver_cuda: None,
            kernels_cuda: Some(13000),
            init_error: None,
        };
        assert!(none.unusable(0).unwrap().contains("no NVIDIA driver"));
        let one = Probe {
            driver: true,
            devices: 1,
            driver_cuda: Some(13000),
            ..none.clone()
        };
        assert_eq!(one.unusable(0), None);
        assert!(one.unusable(1).unwrap().contains("reports 1 device"));
        let no_kernels = Probe {
            kernels: false,
            ..one.clone()
        };
        assert!(no_kernels.unusable(0).unwrap().contains("no CUDA kernels"));
        let old = Probe {
            driver_cuda: Some(12040),
            ..one.clone()
        };
        assert!(old.unusable(0).is_some());
        assert!(auto_reason(&none).contains("no NVIDIA driver"));
        let broken = Probe {
            devices: 0,
            init_error: Some("CUDA_ERROR_NO_DEVICE".into()),
            ..one.clone()
        };
        assert!(broken.unusable(0).unwrap().contains("would not initialise"));
    }

    #[test]
    fn failures_map_to_exit_codes() {
        assert_eq!(Failure::from(Error::Device("x".into())).code, EXIT_USAGE);
        assert_eq!(Failure::from(Error::Invalid("x".into())).code, EXIT_FAILED);
        assert_eq!(Failure::usage("x").code, EXIT_USAGE);
        assert_eq!(Failure::nothing("x").code, EXIT_NOTHING);
    }
}
