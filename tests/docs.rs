//! The README and docs/ hold together: every relative link and image resolves to a file in the
//! tree (and a `#section` to a heading of that file, by GitHub's anchor rule), the README stays
//! a front door (≤ 250 lines), and nothing points at notes outside the repository.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn pages() -> Vec<PathBuf> {
    let mut v = vec![root().join("README.md")];
    for e in std::fs::read_dir(root().join("docs")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "md") {
            v.push(e.path());
        }
    }
    v
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The lines of a Markdown page outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    prose(text)
        .into_iter()
        .filter(|l| l.starts_with('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

/// The targets of `[text](target)` and `![alt](target)` outside code.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in prose(text) {
        let mut rest = l;
        while let Some(i) = rest.find("](") {
            let tail = &rest[i + 2..];
            let Some(j) = tail.find(')') else { break };
            out.push(tail[..j].to_string());
            rest = &tail[j..];
        }
    }
    out
}

#[test]
fn every_link_in_the_readme_and_docs_resolves() {
    let mut bad = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            checked += 1;
            let (file, section) = target.split_once('#').unwrap_or((&target, ""));
            let path = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !path.exists() {
                bad.push(format!("{}: {target}: no such file", page.display()));
                continue;
            }
            if !section.is_empty() {
                let there = std::fs::read_to_string(&path).unwrap_or_default();
                if !anchors(&there).iter().any(|a| a == section) {
                    bad.push(format!("{}: {target}: no such section", page.display()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "broken links:\n{}", bad.join("\n"));
    assert!(
        checked > 20,
        "only {checked} links found: the parser is broken"
    );
    assert_eq!(
        anchor(" `segment` on a volume: known"),
        "segment-on-a-volume-known"
    );
}

#[test]
fn the_readme_is_a_front_door() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let n = text.lines().count();
    assert!(n <= 250, "README.md has {n} lines: move details into docs/");
    for cmd in ["cargo run --release --bin train", "cargo test --release"] {
        assert!(text.contains(cmd), "the README lost `{cmd}`");
    }
}

#[test]
fn nothing_points_at_notes_outside_the_repository() {
    let needle = concat!("coin", "-method");
    let mut found = Vec::new();
    for dir in [
        "src", "tests", "benches", "scripts", "docs", "kernels", "presets", ".ci",
    ] {
        let mut stack = vec![root().join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(t) = std::fs::read_to_string(&p) {
                    if t.contains(needle) {
                        found.push(p.display().to_string());
                    }
                }
            }
        }
    }
    for f in ["README.md", "build.rs", "Cargo.toml"] {
        if std::fs::read_to_string(root().join(f))
            .unwrap()
            .contains(needle)
        {
            found.push(f.to_string());
        }
    }
    assert!(
        found.is_empty(),
        "{found:?} refer to {needle}.md, which is not in the repository: point at docs/method.md"
    );
}
