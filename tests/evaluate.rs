//! The `evaluate` binary on a `smoke` model trained in the test: every file the report page
//! references exists and decodes, `report.json` has one entry per method, and COIN's numbers
//! equal the run's `summary.json` (the same slices, batches and order).

use crate::common::files::smoke_model;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn evaluate(args: &[&str], run: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .arg("--model")
        .arg(run)
        .arg("--out")
        .arg(out)
        .args(args)
        .args(["--device", "cpu", "--threads", "2"])
        .output()
        .unwrap()
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coin-evaluate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The values of `attr="…"` in `html`.
fn references(html: &str, attr: &str) -> Vec<String> {
    let key = format!("{attr}=\"");
    html.match_indices(&key)
        .map(|(i, _)| {
            let rest = &html[i + key.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

#[test]
fn report_files_all_exist_decode_and_agree_with_the_summary() {
    let run = smoke_model();
    let out = out_dir("report");
    let o = evaluate(&["--rise-masks", "64"], run, &out);
    assert!(
        o.status.success(),
        "evaluate failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let mut refs = references(&html, "src");
    refs.extend(references(&html, "href"));
    for want in [
        "report.md",
        "report.json",
        "panels-best.png",
        "sweep.svg",
        "per-image-iou.svg",
        "loss.svg",
    ] {
        assert!(
            refs.iter().any(|r| r == want),
            "index.html does not reference {want}"
        );
    }
    for r in &refs {
        let p = out.join(r);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{r}: {e}"));
        match r.rsplit('.').next().unwrap() {
            "png" => {
                let img = image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{r}: {e}"));
                assert!(img.width() > 0 && img.height() > 0);
            }
            "svg" => {
                let s = String::from_utf8(bytes).unwrap();
                assert!(
                    s.starts_with("<svg") && s.trim_end().ends_with("</svg>"),
                    "{r}"
                );
            }
            "json" => {
                serde_json::from_slice::<Value>(&bytes).unwrap();
            }
            "md" => assert!(String::from_utf8(bytes).unwrap().contains("| COIN |")),
            other => panic!("unexpected reference {r} ({other})"),
        }
    }
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let entries = report.as_array().expect("report.json is a list of methods");
    let method = |m: &str| {
        entries
            .iter()
            .find(|e| e["method"] == m)
            .unwrap_or_else(|| panic!("no {m} entry"))
    };
    for m in [
        "COIN",
        "COIN + post-processing",
        "RISE",
        "LayerCAM",
        "ScoreCAM",
    ] {
        let iou = method(m)["iou"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&iou), "{m}: {iou}");
        // The pixel counts it pools are there, so reports of disjoint slices add up.
        let c = &method(m)["confusion"];
        let count = |k: &str| {
            c[k].as_u64()
                .unwrap_or_else(|| panic!("{m}: no {k} in {c}"))
        };
        let (tp, fp, fn_) = (count("tp"), count("fp"), count("fn_"));
        let pooled = tp as f64 / (tp + fp + fn_).max(1) as f64;
        assert!((pooled - iou).abs() < 1e-12, "{m}: {pooled} vs {iou}");
    }
    assert_eq!(method("RISE")["settings"]["masks"], 64);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        method("COIN")["iou"],
        summary["test_iou"],
        "COIN IoU vs summary.json"
    );
    assert_eq!(
        method("COIN")["dice"],
        summary["test_dice"],
        "COIN Dice vs summary.json"
    );
    assert_eq!(
        method("LayerCAM")["iou"],
        summary["layercam_iou"],
        "LayerCAM IoU vs summary.json"
    );
}

#[test]
fn bad_arguments_are_clear_errors() {
    let run = smoke_model();
    let out = out_dir("bad");
    let o = evaluate(&["--baselines", "rise,gradcam"], run, &out);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown 'gradcam'"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("mine.txt"), "keep").unwrap();
    let o = evaluate(&["--baselines", "none"], run, &out);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    let empty = out.join("not-a-run");
    std::fs::create_dir_all(&empty).unwrap();
    let o = evaluate(&["--baselines", "none"], &empty, &out_dir("bad2"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds no trained COIN model"));
}

/// A Singla et al. run trained on the smoke run's classifier (`--stage counterfactual
/// --classifier RUN`) gets that run's counterfactual seconds, and one report scores both runs
/// on the same slices, each by its own method: the Singla run as an explanation row, also under
/// the authors' protocol.
#[test]
fn one_report_scores_a_singla_run_and_a_coin_run_sharing_a_classifier() {
    let coin_run = smoke_model();
    let dir = out_dir("singla");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("smoke-singla.toml");
    let text = "extends = \"smoke\"\nname = \"smoke-singla\"\n[coin]\nmethod = \"singla\"\nhead = \"tanh\"\n\
                [coin.step.weights]\nadv = 1.0\nkl = 1.0\nrec = 1.0\nminc = 0.0\ntv = 0.0\n";
    std::fs::write(&cfg, text).unwrap();
    let singla = dir.join("singla-run");
    let o = Command::new(env!("CARGO_BIN_EXE_train"))
        .arg("--config")
        .arg(&cfg)
        .args([
            "--stage",
            "counterfactual",
            "--device",
            "cpu",
            "--threads",
            "2",
        ])
        .arg("--classifier")
        .arg(coin_run)
        .arg("--out")
        .arg(&singla)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("as the classifier's run had"), "{stdout}");
    assert!(stdout.contains("Singla et al."), "{stdout}");
    let summary = |run: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
    };
    assert!(summary(&singla)["coin_steps"].as_u64().unwrap() > 0);

    for (model, other) in [(&singla, coin_run), (&coin_run.to_path_buf(), &singla)] {
        let out = dir.join(format!(
            "report-{}",
            model.file_name().unwrap().to_string_lossy()
        ));
        let o = evaluate(&["--baselines", "layercam"], model, &out);
        let o2 = Command::new(env!("CARGO_BIN_EXE_evaluate"))
            .arg("--model")
            .arg(model)
            .arg("--compare")
            .arg(other)
            .arg("--out")
            .arg(out.with_extension("compare"))
            .args([
                "--baselines",
                "layercam",
                "--device",
                "cpu",
                "--threads",
                "2",
            ])
            .output()
            .unwrap();
        for o in [&o, &o2] {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(out.with_extension("compare").join("report.json")).unwrap(),
        )
        .unwrap();
        let rows: Vec<(String, String, u64)> = report
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["method"].as_str().unwrap().to_string(),
                    e["kind"].as_str().unwrap().to_string(),
                    e["slices"].as_u64().unwrap(),
                )
            })
            .collect();
        let kind_of = |prefix: &str| -> Vec<&(String, String, u64)> {
            rows.iter().filter(|r| r.0.starts_with(prefix)).collect()
        };
        let singla_rows = kind_of("Singla et al.");
        let coin_rows = kind_of("COIN");
        assert!(singla_rows.iter().all(|r| r.1 == "explanation"), "{rows:?}");
        assert!(
            coin_rows.iter().all(|r| r.1 == "counterfactual"),
            "{rows:?}"
        );
        let authors: Vec<_> = singla_rows
            .iter()
            .filter(|r| r.0.ends_with("authors' protocol"))
            .collect();
        assert_eq!(authors.len(), 1, "{rows:?}");
        // The authors' protocol keeps only confidently classified slices.
        assert!(authors[0].2 <= rows[0].2, "{rows:?}");
        assert!(!coin_rows.is_empty() && rows.iter().any(|r| r.0 == "LayerCAM"));
    }
}

/// COIN's pooled pixel counts in a report folder's `report.json`.
fn coin_confusion(out: &Path) -> Value {
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    r[0]["confusion"].clone()
}

#[test]
fn tumour_seed_redraws_the_test_tumours_on_the_same_patients() {
    let run = smoke_model();
    let scored = |name: &str, extra: &[&str]| {
        let out = out_dir(name);
        let mut args = vec!["--baselines", "none"];
        args.extend_from_slice(extra);
        let o = evaluate(&args, run, &out);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let c = coin_confusion(&out);
        std::fs::remove_dir_all(&out).ok();
        c
    };
    let own = scored("tumours-own", &[]);
    // The smoke run's seed (777): the same draw as without the flag.
    assert_eq!(scored("tumours-777", &["--tumour-seed", "777"]), own);
    // Another seed: other tumours (and other slices holding one), so other ground truth.
    let other = scored("tumours-778", &["--tumour-seed", "778"]);
    let truth = |c: &Value| c["tp"].as_u64().unwrap() + c["fn_"].as_u64().unwrap();
    assert_ne!(truth(&other), truth(&own), "{other} {own}");
}
