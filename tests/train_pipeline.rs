//! The `train` binary end to end on the `smoke` preset: the files a run writes, resuming after
//! SIGKILL with bit-identical logged losses, and clear failures.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_train");

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coin-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn train(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .args(["--device", "cpu", "--threads", "2"])
        .output()
        .unwrap()
}

/// `train` that must succeed.
fn train_ok(args: &[&str]) -> std::process::Output {
    let out = train(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The smoke preset with each `(from, to)` replaced once, written as `d/file`.
fn smoke_config(d: &Path, file: &str, edits: &[(&str, &str)]) -> PathBuf {
    let out = train(&["--preset", "smoke", "--print-config"]);
    let mut text = String::from_utf8(out.stdout).unwrap();
    for (from, to) in edits {
        text = text.replacen(from, to, 1);
        assert!(text.contains(to), "{text}");
    }
    std::fs::create_dir_all(d).unwrap();
    let p = d.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

/// `train` on the smoke preset with `edits` (see [`smoke_config`]) into `d/run`, with `extra`
/// arguments; the run folder and the output.
fn train_smoke_edited(
    d: &Path,
    edits: &[(&str, &str)],
    extra: &[&str],
) -> (PathBuf, std::process::Output) {
    let cfg = smoke_config(d, "edited.toml", edits);
    let run = d.join("run");
    let mut args = vec![
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = train_ok(&args);
    (run, out)
}

/// The smoke preset with more counterfactual steps, so a kill lands mid-stage.
fn long_smoke(d: &Path) -> PathBuf {
    smoke_config(
        d,
        "long-smoke.toml",
        &[("max_steps = 16", "max_steps = 48")],
    )
}

fn log(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("log.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Logged training lines by (stage, step), the last occurrence winning (a resumed run repeats
/// the steps after its checkpoint).
fn steps(run: &Path) -> std::collections::BTreeMap<(String, u64), Value> {
    log(run)
        .into_iter()
        .filter(|l| l.get("event").is_none())
        .map(|mut l| {
            let key = (
                l["stage"].as_str().unwrap().to_string(),
                l["step"].as_u64().unwrap(),
            );
            l.as_object_mut().unwrap().remove("t");
            (key, l)
        })
        .collect()
}

#[test]
fn smoke_run_writes_a_complete_run_folder() {
    let d = dir("smoke");
    let run = d.join("run");
    let out = train_ok(&["--preset", "smoke", "--out", run.to_str().unwrap()]);
    // smoke: 3 training patients, 1 test patient (patient_003), val_fraction 0.3 → one
    // validation patient, drawn from the training patients and named.
    let said = String::from_utf8_lossy(&out.stdout);
    let line = said
        .lines()
        .find(|l| l.starts_with("data: validation patients (1): "))
        .unwrap_or_else(|| panic!("no validation patients line in:\n{said}"));
    assert!(
        ["patient_000", "patient_001", "patient_002"]
            .iter()
            .any(|p| line.ends_with(p)),
        "{line}"
    );
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    for k in [
        "test_iou",
        "test_dice",
        "classifier_accuracy",
        "ceiling_iou",
        "changed_pixels_normal",
        "seconds",
        "preset",
        "device",
        "cpu",
        "simd",
        "threads",
        "window_hu",
    ] {
        assert!(
            s.get(k).is_some_and(|v| !v.is_null()),
            "summary.json lacks {k}: {s}"
        );
    }
    let (iou, ceiling) = (
        s["test_iou"].as_f64().unwrap(),
        s["ceiling_iou"].as_f64().unwrap(),
    );
    assert!((0.0..=1.0).contains(&iou) && (0.0..=1.0).contains(&ceiling));
    // The test split's one patient holds all of its pixel counts; one patient gives no
    // interval.
    let patients = s["test_patients"].as_array().expect("test_patients");
    assert_eq!(patients.len(), 1, "{patients:?}");
    assert_eq!(patients[0]["patient"], "patient_003");
    let c = &patients[0]["confusion"];
    let count = |k: &str| c[k].as_u64().unwrap() as f64;
    let own = count("tp") / (count("tp") + count("fp") + count("fn_")).max(1.0);
    assert!(
        (own - s["test_iou"].as_f64().unwrap()).abs() < 1e-12,
        "one patient's counts are the split's: {c}"
    );
    assert!(s["test_iou_patients_90"].is_null());
    let named = s["validation_patients"]
        .as_array()
        .expect("validation_patients");
    assert!(
        named.len() == 1 && line.ends_with(named[0].as_str().unwrap()),
        "{named:?}"
    );
    for f in [
        "config.toml",
        "log.jsonl",
        "loss.svg",
        "val_iou.svg",
        "classifier.safetensors",
        "samples/test.png",
        "checkpoints/latest",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    let ck = run.join("checkpoints").join(latest.trim());
    // smoke keeps a moving average of E+G (coin.ema_decay), saved beside the weights.
    for f in [
        "weights.safetensors",
        "averaged.safetensors",
        "optim.safetensors",
        "state.json",
    ] {
        assert!(ck.join(f).is_file(), "{f} missing in {}", ck.display());
    }
    // The checkpoint's weights carry the authors' names.
    let w = coin::io::load_tensors(&ck.join("weights.safetensors"), coin::Device::Cpu).unwrap();
    assert!(
        w.iter().any(|(n, _)| n == "gen.last_block.2.weight")
            && w.iter().any(|(n, _)| n == "disc.embd.weight")
    );
    // A non-empty --out without --resume is refused; --force starts over.
    let again = train(&["--preset", "smoke", "--out", run.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_killed_run_resumes_with_identical_losses() {
    let d = dir("resume");
    let cfg = long_smoke(&d);
    let whole = d.join("whole");
    train_ok(&[
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        whole.to_str().unwrap(),
    ]);

    let killed = d.join("killed");
    let mut child = Command::new(BIN)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            killed.to_str().unwrap(),
            "--device",
            "cpu",
            "--threads",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let k = 12;
    loop {
        let seen = log(&killed).iter().any(|l| {
            l["event"] == "checkpoint"
                && l["stage"] == "counterfactual"
                && l["step"].as_u64() >= Some(k)
        });
        if seen || t0.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let last_logged = steps(&killed)
        .keys()
        .filter(|(s, _)| s == "counterfactual")
        .map(|k| k.1)
        .max()
        .unwrap();
    let latest = std::fs::read_to_string(killed.join("checkpoints/latest")).unwrap();
    let ck_step: u64 = latest.trim().rsplit('-').next().unwrap().parse().unwrap();
    assert!(
        ck_step >= k,
        "checkpoint {ck_step} was written before the kill"
    );
    assert!(
        last_logged < ck_step + 4,
        "nothing past one checkpoint interval is lost ({last_logged} logged, checkpoint {ck_step})"
    );
    assert!(
        last_logged < 48,
        "the kill landed before the end (step {last_logged})"
    );

    train_ok(&[
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        killed.to_str().unwrap(),
        "--resume",
    ]);
    let (a, b) = (steps(&whole), steps(&killed));
    assert_eq!(a.len(), b.len());
    for (key, v) in &a {
        assert_eq!(
            Some(v),
            b.get(key),
            "{key:?}: the resumed run's logged losses differ"
        );
    }
    let sa: Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("summary.json")).unwrap())
            .unwrap();
    let sb: Value =
        serde_json::from_str(&std::fs::read_to_string(killed.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(sa["test_iou"], sb["test_iou"]);
    // The validations (of the moving average, which resumes with its own buffers) match too.
    let validations = |run: &Path| -> Vec<(u64, Value)> {
        let mut v: Vec<(u64, Value)> = log(run)
            .into_iter()
            .filter(|l| l["event"] == "validation" && l["stage"] == "counterfactual")
            .map(|l| (l["step"].as_u64().unwrap(), l["val_iou"].clone()))
            .collect();
        v.dedup_by_key(|x| x.0);
        v
    };
    let (va, vb) = (validations(&whole), validations(&killed));
    assert!(!va.is_empty());
    for (step, iou) in &va {
        let b = vb.iter().rev().find(|x| x.0 == *step);
        assert_eq!(b.map(|x| &x.1), Some(iou), "validation at step {step}");
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn bad_configurations_and_data_fail_clearly() {
    let d = dir("bad");
    std::fs::create_dir_all(&d).unwrap();
    let out_dir = d.join("o");
    let o = out_dir.to_str().unwrap();
    // An unknown key in a config file.
    let cfg = String::from_utf8(train(&["--preset", "smoke", "--print-config"]).stdout).unwrap();
    let bad = d.join("bad.toml");
    std::fs::write(&bad, cfg.replacen("[data]", "[data]\nsizee = 3", 1)).unwrap();
    let r = train(&["--config", bad.to_str().unwrap(), "--out", o]);
    assert!(
        !r.status.success() && String::from_utf8_lossy(&r.stderr).contains("sizee"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    // --budget-scale multiplies every budget; zero is refused.
    let scaled = String::from_utf8(
        train(&[
            "--preset",
            "cpu-anchor",
            "--budget-scale",
            "2",
            "--print-config",
        ])
        .stdout,
    )
    .unwrap();
    let anchor = coin::train::RunConfig::preset("cpu-anchor").unwrap();
    let scaled = coin::train::RunConfig::parse(&scaled, "scaled").unwrap();
    assert_eq!(scaled.classifier.budget_s, 2.0 * anchor.classifier.budget_s);
    assert_eq!(scaled.coin.budget_s, 2.0 * anchor.coin.budget_s);
    let r = train(&["--preset", "smoke", "--budget-scale", "0", "--out", o]);
    assert!(
        !r.status.success() && String::from_utf8_lossy(&r.stderr).contains("--budget-scale"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    // An unknown preset.
    let r = train(&["--preset", "nope", "--out", o]);
    assert!(!r.status.success() && String::from_utf8_lossy(&r.stderr).contains("cpu-default"));
    // A data folder without scans.
    let empty = d.join("empty");
    std::fs::create_dir_all(empty.join("train")).unwrap();
    let r = train(&[
        "--preset",
        "smoke",
        "--data",
        empty.to_str().unwrap(),
        "--out",
        o,
        "--force",
    ]);
    assert!(!r.status.success(), "an empty data folder is refused");
    assert!(!String::from_utf8_lossy(&r.stderr).contains("panicked"));
    // A diverging run stops naming the term and the step.
    let nan = d.join("nan.toml");
    let text = cfg
        .replace("lr = 2e-4", "lr = 1e30")
        .replace("lr = 0.0002", "lr = 1e30");
    assert!(text.contains("1e30"), "{text}");
    std::fs::write(&nan, text).unwrap();
    let r = train(&["--config", nan.to_str().unwrap(), "--out", o, "--force"]);
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && e.contains("counterfactual step") && e.contains("non-finite"),
        "{e}"
    );
    // A corrupt checkpoint is reported on --resume.
    let latest = std::fs::read_to_string(out_dir.join("checkpoints/latest")).unwrap();
    std::fs::write(
        out_dir
            .join("checkpoints")
            .join(latest.trim())
            .join("weights.safetensors"),
        b"garbage",
    )
    .unwrap();
    let r = train(&["--config", nan.to_str().unwrap(), "--out", o, "--resume"]);
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && e.contains("weights.safetensors"),
        "{e}"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn every_shipped_preset_parses_and_validates() {
    for (name, _) in coin::train::PRESETS {
        let c = coin::train::RunConfig::preset(name).unwrap();
        assert_eq!(c.name, name);
        assert_eq!(
            coin::train::RunConfig::parse(&c.to_toml(), name).unwrap(),
            c,
            "{name} round-trips"
        );
    }
}

#[test]
fn best_val_iou_selection_ends_with_the_best_validation() {
    let d = dir("select");
    let (run, _) = train_smoke_edited(
        &d,
        &[
            ("max_steps = 16", "max_steps = 24"),
            ("eval_every = 8", "eval_every = 4"),
            ("select = \"last\"", "select = \"best-val-iou\""),
            // A loose threshold and a high learning rate make validation IoU move, so the best
            // validation is not the last one (checked below).
            ("threshold = 0.25", "threshold = 0.02"),
            ("lr = 0.0002", "lr = 0.02"),
        ],
        &[],
    );
    // The first highest validation IoU of the log is the step the summary names and `best/`
    // holds.
    let vals: Vec<(u64, f64)> = log(&run)
        .iter()
        .filter(|l| l["event"] == "validation" && l["stage"] == "counterfactual")
        .map(|l| (l["step"].as_u64().unwrap(), l["val_iou"].as_f64().unwrap()))
        .collect();
    assert_eq!(vals.len(), 6, "{vals:?}");
    let best = vals
        .iter()
        .fold(vals[0], |b, v| if v.1 > b.1 { *v } else { b });
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["coin_select"], "best-val-iou");
    assert_eq!(s["coin_steps"], 24);
    assert_ne!(
        best.0, 24,
        "the best validation must not be the last here: {vals:?}"
    );
    assert_eq!(s["coin_chosen_step"], best.0, "{vals:?}");
    let name = format!("counterfactual-{:08}", best.0);
    assert_eq!(
        std::fs::read_to_string(run.join("best/latest"))
            .unwrap()
            .trim(),
        name
    );
    // The label-free selection is kept beside it (the first highest label-free score), and
    // the summary scores both on the test split, the run's own first.
    let free: Vec<(u64, f64)> = log(&run)
        .iter()
        .filter(|l| l["event"] == "validation" && l["stage"] == "counterfactual")
        .map(|l| {
            (
                l["step"].as_u64().unwrap(),
                l["val_label_free"].as_f64().unwrap(),
            )
        })
        .collect();
    let best_free = free
        .iter()
        .fold(free[0], |b, v| if v.1 > b.1 { *v } else { b });
    let sel = s["selections"].as_array().unwrap();
    assert_eq!(sel.len(), 2, "{sel:?}");
    assert_eq!(
        (&sel[0]["select"], &sel[0]["step"]),
        (&Value::from("best-val-iou"), &Value::from(best.0))
    );
    assert_eq!(
        (&sel[1]["select"], &sel[1]["step"]),
        (&Value::from("label-free"), &Value::from(best_free.0))
    );
    assert_eq!(sel[0]["test_iou"], s["test_iou"], "the run's own model");
    assert_eq!(
        std::fs::read_to_string(run.join("best-label-free/latest"))
            .unwrap()
            .trim(),
        format!("counterfactual-{:08}", best_free.0)
    );
    // `segment` and `evaluate` open it by default; `last` still means the latest checkpoint.
    let dev = coin::Device::Cpu;
    let chosen = coin::train::TrainedModel::open(&run, None, dev).unwrap();
    assert_eq!(chosen.checkpoint, run.join("best").join(&name));
    assert_eq!(chosen.step, best.0);
    let last = coin::train::checkpoint_arg(&run, "last").unwrap();
    let latest = coin::train::TrainedModel::open(&run, last.as_deref(), dev).unwrap();
    assert_eq!(
        latest.checkpoint,
        run.join("checkpoints/counterfactual-00000024")
    );
    // Starting over with --force drops the old best model, so it cannot stand in for the new
    // run's final one.
    train_ok(&[
        "--preset",
        "smoke",
        "--out",
        run.to_str().unwrap(),
        "--force",
    ]);
    assert!(!run.join("best").exists() && !run.join("best-label-free").exists());
    let fresh = coin::train::TrainedModel::open(&run, None, dev).unwrap();
    assert_eq!(
        fresh.checkpoint,
        run.join("checkpoints/counterfactual-00000016")
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_label_free_selection_is_the_final_model_and_names_its_criterion() {
    let d = dir("select-free");
    let (run, out) =
        train_smoke_edited(&d, &[("select = \"last\"", "select = \"label-free\"")], &[]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("selection label-free"), "{said}");
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["selections"][0]["select"], "label-free");
    assert_eq!(s["selections"][1]["select"], "best-val-iou");
    let m = coin::train::TrainedModel::open(&run, None, coin::Device::Cpu).unwrap();
    assert!(m.checkpoint.starts_with(run.join("best-label-free")));
    assert_eq!(Value::from(m.step), s["coin_chosen_step"]);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn the_classifier_stops_at_the_first_evaluation_reaching_stop_at_accuracy() {
    let d = dir("stop-at");
    let (run, out) = train_smoke_edited(
        &d,
        &[("stop_at_accuracy = 0.0", "stop_at_accuracy = 0.01")],
        &["--stage", "classifier"],
    );
    // Any accuracy reaches 0.01: the first evaluation (step 6 of 12) ends the stage.
    let last = steps(&run)
        .keys()
        .filter(|(s, _)| s == "classifier")
        .map(|k| k.1)
        .max();
    assert_eq!(last, Some(6));
    assert!(String::from_utf8_lossy(&out.stdout).contains("chose step 6 (the first to reach"));
    // A classifier-only run scores its classifier on the test split (no COIN numbers).
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let n = s["test_slices"].as_u64();
    assert!(n.is_none() && s["test_iou"].is_null(), "{s}");
    assert!(s["classifier_test"]["n"].as_u64().unwrap() > 0, "{s}");
    let acc = s["classifier_accuracy"].as_f64().unwrap();
    assert_eq!(Some(acc), s["classifier_test"]["accuracy"].as_f64());
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn keep_validations_keeps_every_validations_classifier() {
    let d = dir("keep-validations");
    let (run, _) = train_smoke_edited(
        &d,
        &[("keep_validations = false", "keep_validations = true")],
        &["--stage", "classifier"],
    );
    let validations: Vec<u64> = log(&run)
        .iter()
        .filter(|v| v["stage"] == "classifier" && v["event"] == "validation")
        .map(|v| v["step"].as_u64().unwrap())
        .collect();
    assert!(validations.len() >= 2, "{validations:?}");
    let kept = run.join("classifier-validations");
    for step in &validations {
        let folder = kept.join(format!("classifier-{step:08}"));
        assert!(folder.join("state.json").is_file(), "{}", folder.display());
        assert!(folder.join("weights.safetensors").is_file());
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn coin_keep_validations_keeps_every_validations_networks() {
    let d = dir("coin-keep-validations");
    let (run, _) = train_smoke_edited(
        &d,
        &[(
            "keep_checkpoints = 2\nkeep_validations = false",
            "keep_checkpoints = 2\nkeep_validations = true",
        )],
        &[],
    );
    let validations: Vec<u64> = log(&run)
        .iter()
        .filter(|v| v["stage"] == "counterfactual" && v["event"] == "validation")
        .map(|v| v["step"].as_u64().unwrap())
        .collect();
    assert_eq!(
        validations,
        [8, 16],
        "smoke: 16 COIN steps, validated every 8"
    );
    assert!(
        !run.join("classifier-validations").exists(),
        "the classifier's own key is off"
    );
    for step in validations {
        let folder = run
            .join("coin-validations")
            .join(format!("counterfactual-{step:08}"));
        // Each kept validation opens as a model at its step, as `evaluate --checkpoint` opens it.
        let m = coin::train::TrainedModel::open(&run, Some(&folder), coin::Device::Cpu).unwrap();
        assert_eq!(m.step, step, "{}", folder.display());
    }
    std::fs::remove_dir_all(&d).ok();
}
