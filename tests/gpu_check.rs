//! `scripts/gpu-check.sh` without a GPU (docs/gpu.md): the dry run stays inside one device
//! call's limits (≤ 330 s of stage limits and allowance, ≤ 8 files), and `run` stops within
//! seconds with a one-line reason and a written `summary.md`, with or without the prepared
//! binaries, printing nothing that panicked (no test binary starts before the driver probe).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn script(args: &[&str], out: &Path, bin: &Path) -> (Output, Duration) {
    let t = Instant::now();
    let o = Command::new("bash")
        .arg("scripts/gpu-check.sh")
        .args(args)
        .env("OUT", out)
        .env("COIN_GPU_CHECK_BIN", bin)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("bash runs");
    (o, t.elapsed())
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coin-gpu-check-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn number_after(text: &str, key: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| {
            panic!("no {key:?} line in:\n{text}");
        });
    line[key.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn the_dry_run_fits_one_device_call() {
    let d = scratch("dry");
    let (o, _) = script(&["run", "--dry-run"], &d.join("out"), &d.join("bin"));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(number_after(&text, "total: ") <= 330, "{text}");
    assert!(number_after(&text, "files: ") <= 8, "{text}");
    for stage in [
        "smoke",
        "ops",
        "suite",
        "san-memcheck",
        "bench",
        "pytorch",
        "step",
        "train",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(stage)),
            "{stage}: {text}"
        );
    }
    assert!(!d.join("out").exists(), "a dry run writes nothing");
    std::fs::remove_dir_all(&d).ok();
}

/// Stops early: exit code not 0, one line on stdout, a summary that says why.
fn stops_early(o: &Output, took: Duration, out: &Path, reason: &str) {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let all = format!("{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(!o.status.success(), "{all}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_eq!(stdout.lines().count(), 1, "one line: {all}");
    assert!(stdout.contains(reason), "{all}");
    assert!(!all.contains("panicked"), "{all}");
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary.md written");
    assert!(
        summary.contains("Stopped early") && summary.contains(reason),
        "{summary}"
    );
    assert!(summary.contains("## Answers"), "{summary}");
    let files = std::fs::read_dir(out).unwrap().count();
    assert!(files <= 8, "{files} files");
}

#[test]
fn without_binaries_or_a_gpu_the_run_stops_with_the_reason() {
    let d = scratch("stop");
    let (o, took) = script(&["run"], &d.join("out1"), &d.join("bin"));
    stops_early(
        &o,
        took,
        &d.join("out1"),
        "is missing: run scripts/gpu-check.sh prepare",
    );
    if Command::new("nvidia-smi").arg("-L").output().is_ok() {
        println!("SKIPPED: the no-driver stop (this machine has nvidia-smi)");
        return;
    }
    // Prepared binaries that must never start: each would print "panicked".
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for b in ["coin-tests", "coin-gpu-bench", "coin-train"] {
        let p = bin.join(b);
        std::fs::write(
            &p,
            "#!/bin/sh\necho panicked: started before the probe\nexit 101\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(bin.join("build-info.txt"), "commit: test\n").unwrap();
    let (o, took) = script(&["run"], &d.join("out2"), &bin);
    stops_early(&o, took, &d.join("out2"), "no NVIDIA driver");
    let summary = std::fs::read_to_string(d.join("out2/summary.md")).unwrap();
    assert!(summary.contains("commit: test"), "{summary}");
    std::fs::remove_dir_all(&d).ok();
}
