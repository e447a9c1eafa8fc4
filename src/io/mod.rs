//! Files: named tensors in safetensors format, written atomically.

mod safetensors_file;

pub use safetensors_file::{load_tensors, save_tensors};
