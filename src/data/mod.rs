//! Data: medical volumes in and out. (The data issue adds layouts, CT windowing, slicing, the
//! built-in phantom, synthetic tumours and the loader on top of this.)

pub mod augment;
pub mod cache;
pub mod dataset;
pub mod layout;
pub mod loader;
pub mod nifti;
pub mod phantom;
pub mod resize;
pub mod slices;
pub mod tumour;
pub mod window;

pub use self::nifti::{read_volume, write_hu, write_labels, Geometry, ReadLimits, Volume};
pub use phantom::{patient, Patient, PhantomSpec, Phase};
pub use resize::{resize_linear, resize_nearest};
pub use window::{fingerprint, Fingerprint, Window};
