//! Files: named tensors in safetensors format, written atomically; a set of parameter groups
//! saved and strictly loaded by name; checkpoint folders; figures; progress on the terminal.

pub mod checkpoint;
pub mod figures;
pub mod progress;
mod safetensors_file;

pub use safetensors_file::{
    load_tensors, load_tensors_with_metadata, save_tensors, save_tensors_with_metadata,
};

use crate::nn::{load_named, named_tensors, ParamGroup};
use crate::{Device, Result};
use std::path::Path;

/// Writes every parameter and buffer of `groups` to `path` (atomically).
pub fn save_groups(path: &Path, groups: &[&ParamGroup]) -> Result<()> {
    save_tensors(path, &named_tensors(groups))
}

/// Loads `path` into `groups`, refusing a missing, extra or mis-shaped name (see
/// [`crate::nn::load_named`]); the file's path prefixes the error.
pub fn load_groups(path: &Path, groups: &[&ParamGroup]) -> Result<()> {
    let tensors = load_tensors(path, Device::Cpu)?;
    load_named(groups, tensors).map_err(|e| match e {
        crate::Error::Format(m) => crate::Error::Format(format!("{}: {m}", path.display())),
        other => other,
    })
}
