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
