//! What every binary promises its user (`coin::cli`): `--device cuda` without a GPU is a
//! one-line refusal with exit 2, never a panic; `auto` says what it chose; the exit codes (0 done,
//! 1 failed, 2 bad usage or unusable device, 3 nothing selected) are in `--help`; `segment` warns
//! without an organ mask, refuses a scan given as the organ mask, and exits 3 when nothing is
//! selected (`--allow-empty`: an empty mask and 0); a run folder moved elsewhere opens in
//! `evaluate` from any folder without regenerating its data.

use crate::common::files::{phantom_pair, smoke_model, train_smoke};
use coin::data::nifti::write_labels;
use coin::data::{patient, PhantomSpec};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coin-cli-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run<S: AsRef<std::ffi::OsStr>>(bin: &str, args: &[S]) -> Output {
    let exe = match bin {
        "train" => env!("CARGO_BIN_EXE_train"),
        "segment" => env!("CARGO_BIN_EXE_segment"),
        "evaluate" => env!("CARGO_BIN_EXE_evaluate"),
        _ => env!("CARGO_BIN_EXE_phantom"),
    };
    Command::new(exe).args(args).output().unwrap()
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn cuda_without_a_gpu_is_a_one_line_refusal_in_every_binary() {
    if coin::gpu::probe().devices > 0 {
        println!("SKIPPED: this machine has a GPU");
        return;
    }
    let d = scratch("cuda");
    let (img, _) = phantom_pair(&d);
    let model = smoke_model().as_os_str();
    let out = d.join("run");
    let mask = d.join("mask.nii.gz");
    let cases: [(&str, Vec<&std::ffi::OsStr>); 3] = [
        (
            "train",
            vec![os("--preset"), os("smoke"), os("--out"), out.as_os_str()],
        ),
        (
            "segment",
            vec![
                os("--model"),
                model,
                os("--input"),
                img.as_os_str(),
                os("--output"),
                mask.as_os_str(),
            ],
        ),
        (
            "evaluate",
            vec![os("--model"), model, os("--out"), out.as_os_str()],
        ),
    ];
    for (bin, mut args) in cases {
        for device in ["cuda", "gpu:1"] {
            args.extend([os("--device"), os(device)]);
            let o = run(bin, &args);
            let e = stderr(&o);
            args.truncate(args.len() - 2);
            assert_eq!(o.status.code(), Some(2), "{bin} --device {device}: {e}");
            assert_eq!(e.lines().count(), 1, "{bin}: one line: {e}");
            assert!(e.starts_with(&format!("{bin}: --device cuda:")), "{e}");
            assert!(e.contains("no NVIDIA driver"), "{e}");
            assert!(!e.contains("panicked"), "{e}");
        }
    }
    assert!(!out.exists() && !mask.exists(), "nothing written");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn exit_codes_are_in_every_help_and_bad_usage_is_2() {
    for bin in ["train", "segment", "evaluate"] {
        let h = String::from_utf8_lossy(&run(bin, &[os("--help")]).stdout).to_string();
        assert!(
            h.contains("Exit codes: 0 done, 1 failed, 2 bad usage"),
            "{bin}: {h}"
        );
        let o = run(bin, &[os("--no-such-flag")]);
        assert_eq!(o.status.code(), Some(2), "{bin}: {}", stderr(&o));
        let o = run(bin, &[os("--device"), os("tpu")]);
        assert_eq!(o.status.code(), Some(2), "{bin}: {}", stderr(&o));
    }
    let h = String::from_utf8_lossy(&run("segment", &[os("--help")]).stdout).to_string();
    assert!(h.contains("not a medical device"), "{h}");
    // Work that fails (here: a run folder that is not there) exits 1, on one line.
    let o = run(
        "evaluate",
        &[
            os("--model"),
            os("/nonexistent/run"),
            os("--out"),
            os("/nonexistent/report"),
            os("--device"),
            os("cpu"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn segment_warns_refuses_and_reports_nothing_selected() {
    let d = scratch("segment");
    let (img, lab) = phantom_pair(&d);
    let model = smoke_model().as_os_str();
    let mask = d.join("mask.nii.gz");
    let base = |extra: &[&std::ffi::OsStr]| -> Vec<std::ffi::OsString> {
        let mut a: Vec<std::ffi::OsString> = [os("--model"), model, os("--input"), img.as_os_str()]
            .iter()
            .map(|x| x.to_os_string())
            .collect();
        for x in [
            os("--output"),
            mask.as_os_str(),
            os("--force"),
            os("--threads"),
            os("2"),
        ] {
            a.push(x.to_os_string());
        }
        a.extend(extra.iter().map(|x| x.to_os_string()));
        a
    };
    // No organ mask: done, with a warning that says how many slices and how to restrict them;
    // `auto` says which device it chose.
    let o = run("segment", &base(&[os("--device"), os("auto")]));
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("no --organ-mask, so all 16 slices"), "{e}");
    assert!(e.contains("--organ-labels"), "{e}");
    assert!(
        e.contains("device: cpu (") || e.contains("device: cuda:0 ("),
        "{e}"
    );
    // The scan given as the organ mask: refused, exit 2, nothing written.
    std::fs::remove_file(&mask).unwrap();
    let o = run(
        "segment",
        &base(&[
            os("--organ-mask"),
            img.as_os_str(),
            os("--device"),
            os("cpu"),
        ]),
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("does not look like a label map"), "{e}");
    assert!(!mask.exists());
    // An organ mask with no organ: nothing selected, exit 3, nothing written…
    let none = d.join("none.nii.gz");
    let p = patient(
        &PhantomSpec {
            nz: 16,
            seed: 777,
            ..PhantomSpec::default()
        },
        3,
    );
    write_labels(&none, &vec![0u8; p.labels.data.len()], &p.labels).unwrap();
    let cpu = [os("--device"), os("cpu")];
    let with_none = |more: &[&std::ffi::OsStr]| {
        let mut a = base(&[os("--organ-mask"), none.as_os_str()]);
        a.extend(cpu.iter().chain(more).map(|x| x.to_os_string()));
        run("segment", &a)
    };
    let o = with_none(&[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("--allow-empty"), "{}", stderr(&o));
    assert!(!mask.exists());
    // …or with --allow-empty an empty mask and exit 0; the kidney map selects slices (exit 0).
    let o = with_none(&[os("--allow-empty")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = coin::data::read_volume(&mask).unwrap();
    assert!(m.data.iter().all(|&v| v == 0.0), "an empty mask");
    let mut a = base(&[
        os("--organ-mask"),
        lab.as_os_str(),
        os("--organ-labels"),
        os("1"),
    ]);
    a.extend(cpu.iter().map(|x| x.to_os_string()));
    let o = run("segment", &a);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("WARNING"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_moved_run_folder_opens_in_evaluate_from_anywhere() {
    let d = scratch("moved");
    let (first, elsewhere) = (d.join("first"), d.join("elsewhere"));
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let o = train_smoke(Path::new("run"), &first);
    assert!(o.status.success(), "{}", stderr(&o));
    let moved = d.join("moved-run");
    std::fs::rename(first.join("run"), &moved).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .arg("--model")
        .arg(&moved)
        .arg("--out")
        .arg(moved.join("report"))
        .args(["--baselines", "none", "--device", "cpu", "--threads", "2"])
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "evaluate wrote nothing where it was started (no phantom regenerated)"
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(moved.join("summary.json")).unwrap())
            .unwrap();
    assert!(
        Path::new(s["data_root"].as_str().unwrap()).is_absolute(),
        "{s}"
    );
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    std::fs::remove_dir_all(&d).ok();
}
