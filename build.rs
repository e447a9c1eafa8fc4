//! Builds the CUDA kernels two ways from the same `kernels/*.cu` sources:
//!
//! 1. **Emulated** (always): the host C++ compiler (`cc` crate) compiles every `.cu` file against
//!    `kernels/emu/cuda_emu.h`, plus the emulator runtime and a generated table of trampolines
//!    that unpack the driver-style `void**` argument array — the static library behind
//!    `gpu::Emu`.
//! 2. **Real** (when `nvcc` is found): each `.cu` file becomes a fatbin (SASS for sm_80 and
//!    sm_90 plus compute_80 PTX by default; `COIN_CUDA_ARCHS=80,90,...` overrides: SASS for each,
//!    PTX for the lowest), cached by content hash in `OUT_DIR`, embedded in the crate. `nvcc` is
//!    searched in `$NVCC`, `$CUDA_HOME/bin`, `PATH`, then the project-local toolkit of
//!    `scripts/install-cuda-toolchain.sh`. The GPU is never probed. The `-Xptxas -v` report is
//!    kept in `OUT_DIR/<module>.ptxas.txt`; with `COIN_FAIL_ON_SPILL=1` a kernel that spills
//!    registers fails the build.
//!
//! Both read one generated kernel table (`OUT_DIR/kernel_table.rs`: name, module, parameter
//! kinds), so the emulator's registry and the module loader cannot disagree.
//!
//! Mirrors of C declarations, generated so they cannot drift:
//! - every `struct Name { … };` in a `.cu` file (the parameter structs kernels take by value)
//!   gets a row per field (name, offset, size) in the emulator's field table, compiled by the
//!   host C++ compiler; `gpu::check_mirror` compares a Rust `#[repr(C)]` mirror against it;
//! - every `enum Name { A = 0, … };` in a `.cu` file (op codes, kernel modes) becomes Rust
//!   constants in `OUT_DIR/kernel_enums/<module>.rs`, included by that family's `gpu.rs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/gpu/versions.rs"]
#[allow(dead_code)]
mod versions;

struct Kernel {
    module: String,
    name: String,
    /// C types of the parameters, `__restrict__` removed.
    params: Vec<String>,
    /// The first argument of `__launch_bounds__`: the most threads a block may have.
    max_threads: u32,
}

/// A C struct declared in a kernel file: its name and field names in order.
struct CStruct {
    name: String,
    fields: Vec<String>,
}

/// The source without `//` comments.
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `{ … };` bodies of top-level `<keyword> Name { … };` declarations.
fn blocks<'a>(text: &'a str, keyword: &str) -> Vec<(String, &'a str)> {
    let mut v = Vec::new();
    let mut rest = text;
    let pat = format!("{keyword} ");
    while let Some(at) = rest.find(&pat) {
        let starts_line = at == 0 || rest[..at].ends_with('\n');
        let after = &rest[at + pat.len()..];
        let (Some(open), true) = (after.find('{'), starts_line) else {
            rest = after;
            continue;
        };
        let name = after[..open].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            rest = after;
            continue;
        }
        let close = after[open..]
            .find("};")
            .expect("declaration closes with '};'")
            + open;
        v.push((name.to_string(), &after[open + 1..close]));
        rest = &after[close..];
    }
    v
}

/// `struct Name { type a, b[6]; … };` declarations: field names (array suffixes dropped).
/// Structs with member functions (a kernel's device-side helpers, never kernel parameters)
/// are skipped.
fn parse_structs(text: &str) -> Vec<CStruct> {
    let text = strip_comments(text);
    blocks(&text, "struct")
        .into_iter()
        .filter(|(_, body)| !body.contains('('))
        .map(|(name, body)| {
            let mut fields = Vec::new();
            for decl in body.split(';').map(str::trim).filter(|d| !d.is_empty()) {
                let mut parts = decl.split(',');
                let first = parts.next().unwrap();
                let first_name = first.split_whitespace().last().unwrap();
                for f in std::iter::once(first_name).chain(parts.map(str::trim)) {
                    fields.push(f.split('[').next().unwrap().trim().to_string());
                }
            }
            CStruct { name, fields }
        })
        .collect()
}

/// `enum Name { A = 0, B = 1, … };` declarations: (enumerator, value), values explicit.
fn parse_enums(text: &str) -> Vec<(String, Vec<(String, i64)>)> {
    let text = strip_comments(text);
    blocks(&text, "enum")
        .into_iter()
        .map(|(name, body)| {
            let items = body
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(|e| {
                    let (k, v) = e
                        .split_once('=')
                        .unwrap_or_else(|| panic!("enum {name}: '{e}' needs an explicit value"));
                    (
                        k.trim().to_string(),
                        v.trim().parse().expect("integer value"),
                    )
                })
                .collect();
            (name, items)
        })
        .collect()
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let kdir = root.join("kernels");
    println!("cargo:rerun-if-changed=kernels");
    println!("cargo:rerun-if-env-changed=NVCC");
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    println!("cargo:rerun-if-env-changed=COIN_CUDA_ARCHS");
    println!("cargo:rerun-if-env-changed=COIN_FAIL_ON_SPILL");
    emit_commit(&root);

    let mut sources: Vec<PathBuf> = std::fs::read_dir(&kdir)
        .expect("kernels/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cu"))
        .collect();
    sources.sort();
    for dir in [&kdir, &kdir.join("emu")] {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            println!("cargo:rerun-if-changed={}", e.path().display());
        }
    }
    let mut kernels = Vec::new();
    let mut structs = Vec::new();
    let enum_dir = out.join("kernel_enums");
    std::fs::create_dir_all(&enum_dir).unwrap();
    for src in &sources {
        let module = src.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(src).unwrap();
        kernels.extend(parse_kernels(&module, &text));
        structs.push((module.clone(), parse_structs(&text)));
        write_enums(&enum_dir.join(format!("{module}.rs")), &parse_enums(&text));
    }

    build_emulator(&kdir, &out, &sources, &kernels, &structs);
    let real = build_fatbins(&root, &kdir, &out, &sources);
    write_table(&out, &kernels, &real);
}

/// Finds `extern "C" __global__ void [__launch_bounds__(..)] name(params)` in a source file.
fn parse_kernels(module: &str, text: &str) -> Vec<Kernel> {
    let mut v = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("__global__ void") {
        let after = &rest[at + "__global__ void".len()..];
        let mut s = after.trim_start();
        let lb = s
            .strip_prefix("__launch_bounds__")
            .unwrap_or_else(|| panic!("{module}.cu: every kernel declares __launch_bounds__(N)"));
        let close = lb.find(')').expect("__launch_bounds__(…) closes");
        let max_threads: u32 = lb[..close]
            .trim_start_matches(['(', ' '])
            .split(',')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .expect("__launch_bounds__ starts with a thread count");
        s = lb[close + 1..].trim_start();
        let open = s.find('(').expect("kernel parameter list");
        let name = s[..open].trim().to_string();
        let close = s[open..].find(')').expect("parameter list closes") + open;
        let params = s[open + 1..close]
            .split(',')
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| {
                let p = p.replace("__restrict__", " ");
                let cut = p
                    .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .expect("parameter has a type and a name");
                p[..=cut].split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        v.push(Kernel {
            module: module.to_string(),
            name,
            params,
            max_threads,
        });
        rest = &s[close..];
    }
    v
}

/// Rust constants for a module's C enums: `pub(crate) const NAME: i32 = value;`.
fn write_enums(path: &Path, enums: &[(String, Vec<(String, i64)>)]) {
    let mut t = String::from("// Generated by build.rs from the module's C enums.\n");
    for (name, items) in enums {
        let _ = writeln!(t, "// enum {name}");
        for (k, v) in items {
            let _ = writeln!(t, "#[allow(dead_code)]\npub(crate) const {k}: i32 = {v};");
        }
    }
    std::fs::write(path, t).unwrap();
}

/// The emulator's static library: each module compiled through a generated wrapper that
/// includes it and adds its trampolines (unpacking the `void**` arguments) and the field table
/// of its structs (offsets and sizes as the C++ compiler lays them out); a table file lists
/// every trampoline and field table for the runtime.
fn build_emulator(
    kdir: &Path,
    out: &Path,
    sources: &[PathBuf],
    kernels: &[Kernel],
    structs: &[(String, Vec<CStruct>)],
) {
    let mut t = String::from(
        "// Generated by build.rs: the emulator's registry of kernels and struct fields.\n\
         struct EmuKernel { const char* name; void (*trampoline)(void**); };\n\
         struct EmuField { const char* strukt; const char* field; unsigned offset; unsigned size; };\n",
    );
    let mut wrappers = Vec::new();
    for (src, (module, ss)) in sources.iter().zip(structs) {
        let mut w = format!(
            "// Generated by build.rs.\n#include \"{}\"\n#include <cstddef>\n",
            src.display()
        );
        w.push_str("struct EmuField { const char* strukt; const char* field; unsigned offset; unsigned size; };\n");
        for k in kernels.iter().filter(|k| &k.module == module) {
            let args: Vec<String> = k
                .params
                .iter()
                .enumerate()
                .map(|(i, p)| format!("*({p}*)a[{i}]"))
                .collect();
            let _ = writeln!(
                w,
                "extern \"C\" void coin_tramp_{}(void** a) {{ {}({}); }}",
                k.name,
                k.name,
                args.join(", ")
            );
        }
        let rows: Vec<String> = ss
            .iter()
            .flat_map(|s| {
                s.fields.iter().map(move |f| {
                    format!(
                        "  {{\"{0}\", \"{1}\", (unsigned)offsetof({0}, {1}), (unsigned)sizeof({0})}},",
                        s.name, f
                    )
                })
            })
            .collect();
        let _ = writeln!(
            w,
            "extern \"C\" const EmuField coin_fields_{module}[] = {{\n{}\n  {{nullptr, nullptr, 0, 0}}}};\n\
             extern \"C\" const unsigned coin_fields_{module}_count = {};",
            rows.join("\n"),
            rows.len()
        );
        let path = out.join(format!("emu_{module}.cpp"));
        std::fs::write(&path, w).unwrap();
        wrappers.push(path);
        let _ = writeln!(
            t,
            "extern \"C\" const EmuField coin_fields_{module}[];\n\
             extern \"C\" const unsigned coin_fields_{module}_count;"
        );
    }
    for k in kernels {
        let _ = writeln!(t, "extern \"C\" void coin_tramp_{}(void** a);", k.name);
    }
    t.push_str("extern \"C\" const EmuKernel coin_emu_kernels[] = {\n");
    for k in kernels {
        let _ = writeln!(t, "  {{\"{}\", coin_tramp_{}}},", k.name, k.name);
    }
    if kernels.is_empty() {
        t.push_str("  {nullptr, nullptr},\n");
    }
    let _ = writeln!(
        t,
        "}};\nextern \"C\" const unsigned coin_emu_kernel_count = {};",
        kernels.len()
    );
    t.push_str("extern \"C\" const EmuField* const coin_emu_field_tables[] = {\n");
    for (m, _) in structs {
        let _ = writeln!(t, "  coin_fields_{m},");
    }
    t.push_str("  nullptr};\nextern \"C\" const unsigned coin_emu_field_counts[] = {\n");
    for (m, _) in structs {
        let _ = writeln!(t, "  coin_fields_{m}_count,");
    }
    let _ = writeln!(
        t,
        "  0}};\nextern \"C\" const unsigned coin_emu_field_table_count = {};",
        structs.len()
    );
    let table = out.join("emu_table.cpp");
    std::fs::write(&table, t).unwrap();

    let mut b = cc::Build::new();
    b.cpp(true)
        .define("COIN_EMU", None)
        .include(kdir)
        .flag("-x")
        .flag("c++")
        .flag_if_supported("-std=c++17")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-invalid-offsetof")
        .flag_if_supported("-fno-strict-aliasing")
        .opt_level(2)
        .warnings(false)
        .file(kdir.join("emu/runtime.cpp"))
        .file(&table);
    for w in wrappers {
        b.file(w);
    }
    b.compile("coin_emu");
}

fn find_nvcc(root: &Path) -> Option<PathBuf> {
    let ok = |p: &Path| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Ok(p) = std::env::var("NVCC") {
        let p = PathBuf::from(p);
        if ok(&p) {
            return Some(p);
        }
        println!(
            "cargo:warning=NVCC={} does not run; looking elsewhere",
            p.display()
        );
    }
    if let Ok(h) = std::env::var("CUDA_HOME") {
        let p = Path::new(&h).join("bin/nvcc");
        if ok(&p) {
            return Some(p);
        }
    }
    if ok(Path::new("nvcc")) {
        return Some(PathBuf::from("nvcc"));
    }
    let site = root.join(".cuda-toolchain/venv/lib");
    if let Ok(rd) = std::fs::read_dir(&site) {
        for py in rd.flatten() {
            let p = py.path().join("site-packages/nvidia/cu13/bin/nvcc");
            if ok(&p) {
                return Some(p);
            }
        }
    }
    None
}

/// What the nvcc build produced: (module, fatbin path) and the versions used.
struct Real {
    fatbins: Vec<(String, PathBuf)>,
    nvcc: Option<String>,
    ptx_isa: Option<String>,
    archs: String,
}

fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn build_fatbins(root: &Path, kdir: &Path, out: &Path, sources: &[PathBuf]) -> Real {
    let archs: Vec<String> = std::env::var("COIN_CUDA_ARCHS")
        .unwrap_or_else(|_| "80,90".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let archs_s = archs.join(",");
    let Some(nvcc) = find_nvcc(root) else {
        println!(
            "cargo:warning=nvcc not found ($NVCC, $CUDA_HOME/bin, PATH, .cuda-toolchain): \
             building without CUDA kernels (the emulated device still works; run \
             scripts/install-cuda-toolchain.sh for real ones)"
        );
        return Real {
            fatbins: vec![],
            nvcc: None,
            ptx_isa: None,
            archs: archs_s,
        };
    };
    let version = Command::new(&nvcc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    let release = version
        .lines()
        .find_map(|l| l.split("release ").nth(1))
        .map(|s| s.trim().to_string());
    let fail_on_spill = std::env::var("COIN_FAIL_ON_SPILL").as_deref() == Ok("1");
    let lowest = versions::lowest_arch(&archs_s).to_string();
    let mut flags: Vec<String> = vec![
        "-fatbin".into(),
        "-O3".into(),
        "-std=c++17".into(),
        "-Xptxas".into(),
        "-v".into(),
        format!("-I{}", kdir.display()),
    ];
    for a in &archs {
        flags.push("-gencode".into());
        flags.push(format!("arch=compute_{a},code=sm_{a}"));
    }
    flags.push("-gencode".into());
    flags.push(format!("arch=compute_{lowest},code=compute_{lowest}"));
    // Every header a kernel file may include (kernels/*.cuh, kernels/emu/*), in name order.
    let mut headers: Vec<PathBuf> = [kdir.to_path_buf(), kdir.join("emu")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cuh" || x == "h"))
        .collect();
    headers.sort();
    let mut common = Vec::new();
    for h in &headers {
        common.extend(std::fs::read(h).unwrap_or_default());
    }
    let mut fatbins = Vec::new();
    let mut spills = Vec::new();
    for src in sources {
        let module = src.file_stem().unwrap().to_string_lossy().to_string();
        let mut h = fnv(&std::fs::read(src).unwrap(), 0xcbf2_9ce4_8422_2325);
        h = fnv(&common, h);
        h = fnv(flags.join(" ").as_bytes(), h);
        h = fnv(version.as_bytes(), h);
        let target = out.join(format!("{module}-{h:016x}.fatbin"));
        let report = out.join(format!("{module}.ptxas.txt"));
        if !target.is_file() {
            let o = Command::new(&nvcc)
                .args(&flags)
                .arg("-o")
                .arg(&target)
                .arg(src)
                .output()
                .expect("nvcc runs");
            let text = String::from_utf8_lossy(&o.stderr).to_string();
            std::fs::write(&report, &text).unwrap();
            if !o.status.success() {
                panic!("nvcc failed on {}:\n{text}", src.display());
            }
        }
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        let mut func = String::new();
        for l in text.lines() {
            if let Some(f) = l.split("Function properties for ").nth(1) {
                func = f.trim().to_string();
            }
            if l.contains("spill stores") && !l.contains(" 0 bytes spill stores") {
                spills.push(format!("{module}::{func}: {}", l.trim()));
            }
        }
        fatbins.push((module, target));
    }
    if !spills.is_empty() {
        for s in &spills {
            println!("cargo:warning=register spill: {s}");
        }
        if fail_on_spill {
            panic!(
                "kernels spill registers (COIN_FAIL_ON_SPILL=1):\n{}",
                spills.join("\n")
            );
        }
    }
    // The PTX ISA version this nvcc emits (one small module compiled to PTX).
    let ptx_isa = sources.first().and_then(|src| {
        let ptx = out.join("probe.ptx");
        let ok = Command::new(&nvcc)
            .args(["-ptx", "-std=c++17", &format!("-I{}", kdir.display())])
            .arg(format!("-arch=compute_{lowest}"))
            .arg("-o")
            .arg(&ptx)
            .arg(src)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| std::fs::read_to_string(&ptx).ok())
            .flatten()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix(".version ").map(|v| v.trim().to_string()))
            })
    });
    println!(
        "cargo:warning=CUDA kernels built with nvcc {} (PTX ISA {}) for sm_{} + compute_{lowest} PTX",
        release.as_deref().unwrap_or("?"),
        ptx_isa.as_deref().unwrap_or("?"),
        archs.join(", sm_")
    );
    Real {
        fatbins,
        nvcc: release,
        ptx_isa,
        archs: archs_s,
    }
}

fn write_table(out: &Path, kernels: &[Kernel], real: &Real) {
    let mut t = String::from("// Generated by build.rs.\n");
    t.push_str("pub const KERNELS: &[KernelEntry] = &[\n");
    for k in kernels {
        let kinds: Vec<String> = k
            .params
            .iter()
            .map(|p| {
                let kind = if p.ends_with('*') {
                    "Ptr"
                } else {
                    match p.as_str() {
                        "int" => "I32",
                        "long long" => "I64",
                        "float" => "F32",
                        s if s.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                            return format!("ParamKind::Struct({s:?})")
                        }
                        other => panic!("kernel {}: unsupported parameter type '{other}'", k.name),
                    }
                };
                format!("ParamKind::{kind}")
            })
            .collect();
        let _ = writeln!(
            t,
            "    KernelEntry {{ name: {:?}, module: {:?}, params: &[{}], max_threads: {} }},",
            k.name,
            k.module,
            kinds.join(", "),
            k.max_threads
        );
    }
    t.push_str("];\n");
    t.push_str("pub const FATBINS: &[(&str, &[u8])] = &[\n");
    for (m, p) in &real.fatbins {
        let _ = writeln!(
            t,
            "    ({m:?}, include_bytes!({:?})),",
            p.display().to_string()
        );
    }
    t.push_str("];\n");
    let _ = writeln!(t, "pub const NVCC_RELEASE: Option<&str> = {:?};", real.nvcc);
    let cuda = real
        .nvcc
        .as_deref()
        .and_then(versions::cuda_version_of_release);
    let _ = writeln!(t, "pub const CUDA_BUILT: Option<i32> = {cuda:?};");
    let _ = writeln!(t, "pub const PTX_ISA: Option<&str> = {:?};", real.ptx_isa);
    let _ = writeln!(t, "pub const CUDA_ARCHS: &str = {:?};", real.archs);
    std::fs::write(out.join("kernel_table.rs"), t).unwrap();
}

/// The commit this build comes from, for the records reports carry (`COIN_GIT_COMMIT`: a short
/// hash, with `-dirty` when tracked files differed from it when this script last ran; unset
/// outside a git checkout). Reruns when HEAD, its branch or the index move.
fn emit_commit(root: &Path) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if let Some(hash) = git(&["rev-parse", "--short=12", "HEAD"]) {
        let dirty =
            git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        let mark = if dirty { "-dirty" } else { "" };
        println!("cargo:rustc-env=COIN_GIT_COMMIT={hash}{mark}");
    }
    let dot_git = root.join(".git");
    let mut watch = vec![dot_git.join("HEAD"), dot_git.join("index")];
    if let Ok(head) = std::fs::read_to_string(dot_git.join("HEAD")) {
        if let Some(branch) = head.strip_prefix("ref: ") {
            watch.push(dot_git.join(branch.trim()));
        }
    }
    for f in watch.into_iter().filter(|f| f.exists()) {
        println!("cargo:rerun-if-changed={}", f.display());
    }
}
