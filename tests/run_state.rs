//! The typed run state (`train::RunState`): a run folder written before `state.json` carried a
//! format version (tests/fixtures/run-format-1, a trimmed `smoke` run) still opens, segments a
//! scan and evaluates; a state written now round-trips with its phase; a newer format and a
//! foreign file are refused with a message saying why.

use coin::train::{Phase, RunState, TrainedModel, RUN_STATE_FORMAT};
use coin::Device;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-format-1")
}

#[test]
fn a_format_1_run_opens_for_inference() {
    let m = TrainedModel::open(&fixture(), None, Device::Cpu).unwrap();
    assert_eq!(m.step, 16);
    assert_eq!(m.config.name, "smoke");
    assert_eq!(m.prep.size, 32);
    assert!(m.data.root.is_none(), "the built-in phantom");
    let s = RunState::read(&m.checkpoint).unwrap();
    assert_eq!(s.format, 1, "read as the first format");
    assert!(matches!(s.phase, Phase::Counterfactual(ref c) if c.step == 16));
}

#[test]
fn a_format_1_run_segments_a_scan() {
    let d = std::env::temp_dir().join(format!("coin-run-state-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let (img, lab) = crate::common::files::phantom_pair(&d);
    let mask = d.join("mask.nii.gz");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_segment"))
        .arg("--model")
        .arg(fixture())
        .args([
            "--input".as_ref(),
            img.as_os_str(),
            "--output".as_ref(),
            mask.as_os_str(),
        ])
        .args([
            "--organ-mask".as_ref(),
            lab.as_os_str(),
            "--organ-labels".as_ref(),
            "1".as_ref(),
        ])
        .args(["--device", "cpu", "--threads", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(mask.is_file());
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_state_written_now_round_trips() {
    let old = RunState::read(&fixture().join("checkpoints/counterfactual-00000016")).unwrap();
    let now = old.record.state(old.phase.clone());
    assert_eq!(now.format, RUN_STATE_FORMAT);
    let again = RunState::from_json(serde_json::to_value(&now).unwrap()).unwrap();
    assert_eq!(again.format, RUN_STATE_FORMAT);
    assert_eq!(again.record.config, old.record.config);
    assert_eq!(
        serde_json::to_value(&again.phase).unwrap(),
        serde_json::to_value(&old.phase).unwrap()
    );
    assert_eq!(
        serde_json::to_value(&again.phase).unwrap()["stage"],
        "counterfactual"
    );
}

#[test]
fn newer_formats_and_foreign_files_are_refused() {
    let mut v = serde_json::to_value(
        RunState::read(&fixture().join("checkpoints/counterfactual-00000016")).unwrap(),
    )
    .unwrap();
    v["format"] = serde_json::json!(RUN_STATE_FORMAT + 1);
    let e = RunState::from_json(v).unwrap_err();
    assert!(e.contains("newer than this build reads"), "{e}");
    let e = RunState::from_json(serde_json::json!({"hello": 1})).unwrap_err();
    assert!(
        e.contains("not a run state") || e.contains("unknown stage"),
        "{e}"
    );
}

#[test]
fn a_format_1_run_evaluates() {
    let out = std::env::temp_dir().join(format!("coin-run-state-eval-{}", std::process::id()));
    std::fs::remove_dir_all(&out).ok();
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .arg("--model")
        .arg(fixture())
        .arg("--out")
        .arg(&out)
        .args(["--baselines", "none", "--device", "cpu", "--threads", "2"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report[0]["method"], "COIN", "{report}");
    std::fs::remove_dir_all(&out).ok();
}
