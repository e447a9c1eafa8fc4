//! Files the end-to-end tests share: the real sample CTs and one `smoke`-preset run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A file under `.sample-data/` (scripts/fetch-sample-data.sh); `None` when absent, unless
/// `COIN_REQUIRE_SAMPLE_DATA=1` (CI), where its absence fails the test.
pub fn sample(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".sample-data")
        .join(rel);
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("COIN_REQUIRE_SAMPLE_DATA").as_deref() == Ok("1") {
        panic!(
            "{} is missing and COIN_REQUIRE_SAMPLE_DATA=1: run scripts/fetch-sample-data.sh",
            p.display()
        );
    }
    println!(
        "SKIPPED: {} not fetched (scripts/fetch-sample-data.sh)",
        p.display()
    );
    None
}

/// A run folder of the `smoke` preset (32², a few steps), trained once by the `train` binary
/// and shared by every test that needs a trained model.
pub fn smoke_model() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = std::env::temp_dir().join(format!("coin-smoke-model-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        let out = Command::new(env!("CARGO_BIN_EXE_train"))
            .args([
                "--preset",
                "smoke",
                "--device",
                "cpu",
                "--threads",
                "2",
                "--out",
            ])
            .arg(&run)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "training the smoke model failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        run
    })
}
