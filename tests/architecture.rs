//! The engine's layout rules, checked on the source tree: the GPU seam stays where the
//! architecture puts it (an op family = `src/ops/<family>/` + `kernels/<family>.cu`; the device
//! runtime alone under `src/gpu/`; models, layers and optimizers only through the ops).

use std::path::Path;

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn layers_models_and_optimizers_reach_the_gpu_only_through_ops() {
    for dir in ["src/nn", "src/optim", "src/models"] {
        for f in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(
                !text.contains("crate::gpu"),
                "{} imports crate::gpu: call an op instead",
                f.display()
            );
        }
    }
}

#[test]
fn every_kernel_file_is_an_op_family_and_src_gpu_is_the_runtime_alone() {
    for e in std::fs::read_dir(root().join("kernels")).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "cu") {
            let family = p.file_stem().unwrap().to_string_lossy().to_string();
            if family == "selftest" {
                continue; // the runtime's own barrier and shuffle tests
            }
            let launchers = root().join(format!("src/ops/{family}/gpu.rs"));
            assert!(
                launchers.is_file(),
                "kernels/{family}.cu has no launchers at {}",
                launchers.display()
            );
        }
    }
    let mut runtime: Vec<String> = rust_files(&root().join("src/gpu"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    runtime.sort();
    assert_eq!(
        runtime,
        [
            "block_cache.rs",
            "counters.rs",
            "cuda.rs",
            "emu.rs",
            "grid.rs",
            "mod.rs",
            "table.rs",
            "versions.rs"
        ],
        "src/gpu holds the device runtime only; an op's launchers go in src/ops/<family>/gpu.rs"
    );
}

#[test]
fn ops_take_parameter_structs_not_long_argument_lists() {
    for f in rust_files(&root().join("src/ops")) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("too_many_arguments"),
            "{} allows too_many_arguments: group the sizes in a struct",
            f.display()
        );
    }
}

/// The `use` and path lines of the Rust files under `dir` that mention `needle`.
fn files_mentioning(dir: &str, needle: &str) -> Vec<String> {
    rust_files(&root().join(dir))
        .into_iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .any(|l| !l.trim_start().starts_with("//") && l.contains(needle))
        })
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
        .collect()
}

#[test]
fn the_application_layers_import_only_downward() {
    // (folder, what it must never import, why)
    let rules = [
        (
            "src/eval",
            "crate::train",
            "evaluation takes networks and preprocessing, not a run",
        ),
        (
            "src/io",
            "crate::eval",
            "files and figures sit below evaluation",
        ),
        (
            "src/ops",
            "crate::optim",
            "an optimizer is built on its update op, not the reverse",
        ),
        ("src/data", "crate::train", "data sit below training"),
        ("src/data", "crate::eval", "data sit below evaluation"),
        ("src/models", "crate::train", "networks sit below training"),
        ("src/models", "crate::eval", "networks sit below evaluation"),
    ];
    for (dir, needle, why) in rules {
        let found = files_mentioning(dir, needle);
        assert!(found.is_empty(), "{found:?} use {needle}: {why}");
    }
}

/// Every `coin::…` item a file names, braces expanded one level (`coin::a::{b, c::d}` →
/// `coin::a::b`, `coin::a::c::d`; `self` → `coin::a`).
fn coin_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("coin::") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        let path = tail[..end].trim_end_matches(':');
        if tail[end..].starts_with('{') && tail[..end].ends_with("::") {
            let close = tail[end..].find('}').map_or(tail.len(), |j| end + j);
            for item in tail[end + 1..close].split(',').map(str::trim) {
                match item {
                    "" => {}
                    "self" => out.push(path.to_string()),
                    _ => out.push(format!("{path}::{item}")),
                }
            }
            rest = &tail[close..];
        } else {
            out.push(path.to_string());
            rest = &tail[end..];
        }
    }
    out
}

#[test]
fn binaries_use_only_the_library_entry_points() {
    // What a binary may name: parsing its arguments and printing are its own; everything else
    // is one of these library entry points.
    let allowed = [
        "coin::Device",
        "coin::Error",
        "coin::Result",
        "coin::set_threads",
        "coin::host::threads",
        "coin::cli::main",
        "coin::cli::DeviceArg",
        "coin::cli::ModelArgs",
        "coin::cli::Failure",
        "coin::cli::EXIT_CODES_HELP",
        "coin::data::Volume",
        "coin::eval::check_organ_mask",
        "coin::eval::VolumeSegmentation",
        "coin::attribution::RiseCfg",
        "coin::data::DataSource",
        "coin::data::Window",
        "coin::data::fingerprint",
        "coin::data::read_volume",
        "coin::data::read_scan",
        "coin::data::is_series_dir",
        "coin::data::write_hu",
        "coin::data::write_labels",
        "coin::data::bake::bake_tumours",
        "coin::data::bake::BakeCfg",
        "coin::data::layout::LabelIds",
        "coin::data::layout::LayoutKind",
        "coin::data::nifti::read_volume",
        "coin::data::nifti::write_f32",
        "coin::data::nifti::write_labels",
        "coin::data::phantom::contact_sheet",
        "coin::data::phantom::patient",
        "coin::data::phantom::write_dataset",
        "coin::data::phantom::write_dataset_as",
        "coin::data::phantom::ScanFormat",
        "coin::data::phantom::PhantomSpec",
        "coin::data::phantom::Family",
        "coin::data::tumour::TumourParams",
        "coin::eval::segment_volume",
        "coin::eval::sidecar::components",
        "coin::eval::sidecar::mask_stem",
        "coin::eval::sidecar::preview_path",
        "coin::eval::sidecar::save_preview",
        "coin::eval::sidecar::sha256_of",
        "coin::eval::sidecar::sidecar_path",
        "coin::eval::sidecar::FileStamp",
        "coin::eval::sidecar::OrientationPlan",
        "coin::eval::sidecar::Sidecar",
        "coin::eval::sidecar::Software",
        "coin::eval::OrganMask",
        "coin::eval::SegmentOptions",
        "coin::eval::report",
        "coin::eval::report::run",
        "coin::eval::report::Baseline",
        "coin::eval::report::EvalOptions",
        "coin::eval::report::Scored",
        "coin::eval::report_page::markdown_table",
        "coin::io::checkpoint::write_atomic",
        "coin::io::progress::slice_bar",
        "coin::train::run",
        "coin::train::RunConfig",
        "coin::train::RunOptions",
        "coin::train::Stages",
        "coin::train::TrainedModel",
        "coin::train::export_bundle",
        "coin::train::bundle_card",
        "coin::train::default_run_folder",
        "coin::train::test_loader",
        "coin::train::data_setup::prepare",
    ];
    let mut checked = 0;
    for f in rust_files(&root().join("src/bin")) {
        let text = std::fs::read_to_string(&f).unwrap();
        for p in coin_paths(&text) {
            checked += 1;
            assert!(
                allowed.contains(&p.as_str()),
                "{} uses {p}: add a library entry point (and list it here) instead of reaching in",
                f.display()
            );
        }
    }
    assert!(
        checked > 30,
        "only {checked} paths found: the parser is broken"
    );
    assert_eq!(
        coin_paths("use coin::a::{b, c::d, self};\nlet x = coin::e::f(1);"),
        ["coin::a::b", "coin::a::c::d", "coin::a", "coin::e::f"]
    );
}

/// (name, first line, lines) of each function in `text`, from its `fn` line to the closing
/// brace at the same indentation (rustfmt's layout).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let words: Vec<&str> = t.split_whitespace().collect();
        let Some(k) = words.iter().position(|w| *w == "fn") else {
            continue;
        };
        let prefix_ok = words[..k]
            .iter()
            .all(|w| w.starts_with("pub") || matches!(*w, "const" | "unsafe" | "async" | "extern"));
        if t.starts_with("//") || !prefix_ok || k + 1 >= words.len() {
            continue;
        }
        let name = words[k + 1]
            .split(['(', '<'])
            .next()
            .unwrap_or("")
            .to_string();
        let indent = l.len() - t.len();
        let Some(open) = (i..lines.len())
            .find(|&j| lines[j].contains('{') || lines[j].trim_end().ends_with(';'))
        else {
            continue;
        };
        if !lines[open].contains('{') {
            continue; // a declaration without a body
        }
        let one_line = lines[open].trim_end().ends_with('}');
        let close = if one_line {
            Some(open)
        } else {
            let want = format!("{}}}", " ".repeat(indent));
            (open + 1..lines.len()).find(|&j| lines[j].trim_end() == want)
        };
        if let Some(c) = close {
            out.push((name, i + 1, c - i + 1));
        }
    }
    out
}

#[test]
fn application_functions_stay_under_80_lines() {
    let mut long = Vec::new();
    for dir in ["src/train", "src/eval", "src/bin"] {
        for f in rust_files(&root().join(dir)) {
            for (name, line, n) in functions(&std::fs::read_to_string(&f).unwrap()) {
                if n > 80 {
                    long.push(format!("{}:{line} {name}: {n} lines", f.display()));
                }
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these into named steps:\n{}",
        long.join("\n")
    );
    // The counter itself: a 3-line function and a long one are measured.
    let sample = "fn a() {\n    x();\n}\n\npub(crate) fn b(\n    y: u8,\n) -> u8 {\n".to_string()
        + &"    z();\n".repeat(90)
        + "}\n";
    let f = functions(&sample);
    assert_eq!(f[0], ("a".to_string(), 1, 3));
    assert_eq!(f[1].0, "b");
    assert_eq!(f[1].2, 94);
}
