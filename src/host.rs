//! Facts about the machine a run or a report ran on, for the records that carry figures: the
//! CPU model, the SIMD path of the fast CPU kernels, the worker threads, and the version and
//! commit this build came from.

/// The host CPU's model name (the architecture where /proc/cpuinfo has none).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The instruction set the fast CPU kernels run with: "avx512", "avx2" or "portable".
pub fn simd_path() -> &'static str {
    crate::ops::conv::simd_path()
}

/// Worker threads of the tensor ops.
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// "CPU (SIMD path), N threads" for a report's header.
pub fn describe() -> String {
    format!(
        "{} ({} SIMD path), {} threads",
        cpu_model(),
        simd_path(),
        threads()
    )
}

/// The commit this build was compiled from (a short hash, `-dirty` when tracked files differed
/// from it), when it was built in a git checkout: captured by `build.rs`, so it describes the
/// binary wherever it runs.
pub fn commit() -> Option<String> {
    option_env!("COIN_GIT_COMMIT").map(str::to_string)
}

/// This build's version (Cargo.toml).
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
