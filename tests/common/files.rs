//! Files the end-to-end tests share: the real sample CTs, one `smoke`-preset run, and a
//! phantom patient of the smoke run's data written as NIfTI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A file under `.sample-data/` (scripts/fetch-sample-data.sh); `None` when absent, unless
/// `COIN_REQUIRE_SAMPLE_DATA=1` (CI), where its absence fails the test.
pub fn sample(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".sample-data")
        .join(rel);
    if p.is_file() || p.is_dir() {
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

/// Trains the `smoke` preset on the CPU into `out` (relative to `cwd`), as a user would.
pub fn train_smoke(out: &Path, cwd: &Path) -> std::process::Output {
    train_smoke_on(None, out, cwd)
}

/// [`train_smoke`] on the dataset folder `data` (default: the built-in phantom).
pub fn train_smoke_on(data: Option<&Path>, out: &Path, cwd: &Path) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_train"));
    cmd.args(["--preset", "smoke", "--device", "cpu", "--threads", "2"]);
    if let Some(d) = data {
        cmd.arg("--data").arg(d);
    }
    cmd.arg("--out").arg(out).current_dir(cwd).output().unwrap()
}

/// A run folder of the `smoke` preset (32², a few steps), trained once by the `train` binary
/// and shared by every test that needs a trained model.
pub fn smoke_model() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = std::env::temp_dir().join(format!("coin-smoke-model-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        let out = train_smoke(&run, Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(
            out.status.success(),
            "training the smoke model failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        run
    })
}

/// Patient 3 of the smoke run's phantom (16 slices, seed 777) written into `dir`: its CT
/// (`ct.nii.gz`) and its kidney labels (`kidney.nii.gz`).
pub fn phantom_pair(dir: &Path) -> (PathBuf, PathBuf) {
    use coin::data::nifti::{write_f32, write_labels};
    let spec = coin::data::PhantomSpec {
        nz: 16,
        seed: 777,
        ..Default::default()
    };
    let p = coin::data::patient(&spec, 3);
    let (img, lab) = (dir.join("ct.nii.gz"), dir.join("kidney.nii.gz"));
    write_f32(&img, &p.image.data, &p.image).unwrap();
    let ids: Vec<u8> = p.labels.data.iter().map(|&v| v as u8).collect();
    write_labels(&lab, &ids, &p.labels).unwrap();
    (img, lab)
}
