//! Fuzz target: arbitrary bytes as a `.nii` file (and, when they start with the gzip magic, as
//! a `.nii.gz`) through the NIfTI reader. Any panic is a bug; errors are expected.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run nifti_header fuzz/corpus/nifti_header` (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;

fuzz_target!(|data: &[u8]| {
    let gz = data.starts_with(&[0x1f, 0x8b]);
    let dir = PathBuf::from(std::env::var("COIN_FUZZ_DIR").unwrap_or_else(|_| "/tmp".into()));
    let path = dir.join(format!(
        "coin-fuzz-{}.{}",
        std::process::id(),
        if gz { "nii.gz" } else { "nii" }
    ));
    std::fs::write(&path, data).unwrap();
    let limits = coin::data::ReadLimits {
        max_voxels: 1 << 22,
    };
    let _ = coin::data::nifti::read_volume_with(&path, limits);
});
