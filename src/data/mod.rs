//! Data: NIfTI volumes in and out (`nifti`), DICOM series in and out (`dicom`), either as a scan
//! (`scan`), dataset layouts (`layout`), CT windowing
//! (`window`), slicing with provenance (`slices`), world orientation of voxel axes (`orientation`), resizing (`resize`), the built-in phantom
//! (`phantom`), the paper's synthetic tumours (`tumour`), the preprocessed-slice cache (`cache`),
//! the slice dataset that chains them (`dataset`), what a run's inputs were made from and how
//! (`preprocessing`), augmentations and epoch orders (`augment`),
//! and the batching loader (`loader`).

pub mod augment;
pub mod bake;
pub mod cache;
pub mod components;
pub mod dataset;
pub mod dicom;
pub mod layout;
pub mod loader;
pub mod nifti;
pub mod orientation;
pub mod phantom;
pub mod preprocessing;
pub mod resize;
pub mod scan;
pub mod slice_labels;
pub mod slices;
pub mod tumour;
pub mod window;

pub use self::nifti::{
    read_volume, write_f32, write_hu, write_labels, Geometry, ReadLimits, Volume,
};
pub use dicom::is_series_dir;
pub use phantom::{patient, Family, Patient, PhantomSpec, Phase};
pub use preprocessing::{DataSource, Preprocessing};
pub use resize::{resize_linear, resize_nearest};
pub use scan::read_scan;
pub use window::{fingerprint, Fingerprint, Window};
