//! Data: medical volumes in and out. (The data issue adds layouts, CT windowing, slicing, the
//! built-in phantom, synthetic tumours and the loader on top of this.)

pub mod nifti;
pub mod resize;
pub mod window;

pub use self::nifti::{read_volume, write_labels, Geometry, ReadLimits, Volume};
pub use resize::{resize_linear, resize_nearest};
pub use window::{fingerprint, Fingerprint, Window};
