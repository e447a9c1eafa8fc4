//! `evaluate`'s folder: `report.md` (the paper's table), `report.json` (one entry per method),
//! PNG panels of the best and worst slices, SVG plots (training losses, validation IoU, the
//! threshold sweep, the per-image IoU distribution) and a static `index.html` that links them
//! and reads in a browser without a server.

use super::difference::mask;
use super::report::{MethodKind, MethodResult};
use super::segmentation::EvalSlice;
use crate::io::checkpoint::write_atomic;
use crate::io::figures::{grey, overlay, rgb, save_line_plot, save_rgb_grid, Rgb};
use crate::{Error, Result};
use std::path::Path;

/// What the page says about the run besides the table.
pub struct PageInfo {
    pub title: String,
    /// Lines of context (model, data, host), shown as a list.
    pub facts: Vec<String>,
    pub notes: Vec<String>,
}

fn fmt(v: f64) -> String {
    format!("{v:.4}")
}

const HEADERS: [&str; 7] = [
    "method",
    "IoU",
    "Dice",
    "per-image IoU (mean / median)",
    "validity",
    "threshold",
    "seconds",
];

/// One row's cells, in the order of `HEADERS`.
fn cells(r: &MethodResult) -> [String; 7] {
    [
        r.method.clone(),
        fmt(r.iou),
        fmt(r.dice),
        format!(
            "{} / {}",
            fmt(r.per_image_iou_mean),
            fmt(r.per_image_iou_median)
        ),
        r.validity.map_or("–".into(), fmt),
        r.threshold.to_string(),
        format!("{:.1}", r.seconds),
    ]
}

/// The table as Markdown.
pub fn markdown_table(rows: &[MethodResult]) -> String {
    let mut s = format!("| {} |\n|---|{}\n", HEADERS.join(" | "), "---:|".repeat(6));
    for r in rows {
        s += &format!("| {} |\n", cells(r).join(" | "));
    }
    s
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html_table(rows: &[MethodResult]) -> String {
    let row = |tag: &str, cs: &[String]| {
        let inner: String = cs
            .iter()
            .map(|c| format!("<{tag}>{}</{tag}>", html_escape(c)))
            .collect();
        format!("<tr>{inner}</tr>\n")
    };
    let headers: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
    let mut s = String::from("<table>\n") + &row("th", &headers);
    for r in rows {
        s += &row("td", &cells(r));
    }
    s + "</table>\n"
}

/// Rows of panels for `picks` (indices into `slices`): input, counterfactual, difference, the
/// COIN mask over the input against the ground truth (true positive green, false positive red,
/// false negative blue), ground truth, then each baseline's map.
fn panels(
    path: &Path,
    slices: &[EvalSlice],
    picks: &[usize],
    coin: &MethodResult,
    baselines: &[&MethodResult],
) -> Result<()> {
    let Some(&first) = picks.first() else {
        return Ok(());
    };
    let grid: Vec<Vec<Vec<Rgb>>> = picks
        .iter()
        .map(|&i| {
            let s = &slices[i];
            let d = &coin.maps[i];
            let mask: Vec<bool> = d.iter().map(|&v| v > coin.threshold as f32).collect();
            let truth: Vec<bool> = s.truth.iter().map(|&t| t > 0).collect();
            let truth_grey: Vec<f32> = truth.iter().map(|&t| t as u8 as f32).collect();
            let mut row = vec![
                rgb(&grey(&s.x, -1.0, 1.0)),
                rgb(&grey(&s.x_cf, -1.0, 1.0)),
                rgb(&grey(d, 0.0, 0.5)),
                overlay(&s.x, &mask, &truth),
                rgb(&grey(&truth_grey, 0.0, 1.0)),
            ];
            row.extend(baselines.iter().map(|b| rgb(&grey(&b.maps[i], 0.0, 1.0))));
            row
        })
        .collect();
    save_rgb_grid(path, &grid, slices[first].rows, slices[first].cols)
}

/// Writes the whole folder; returns the files `index.html` references.
pub fn write_report(
    out: &Path,
    run: &Path,
    rows: &[MethodResult],
    slices: &[EvalSlice],
    info: &PageInfo,
) -> Result<Vec<String>> {
    std::fs::create_dir_all(out)?;
    // The first row is the model the report is about (COIN or Singla et al.).
    let coin = rows
        .first()
        .filter(|r| r.kind.is_generated())
        .ok_or_else(|| Error::Invalid("evaluate: no counterfactual method to report".into()))?;
    let baselines: Vec<&MethodResult> = rows
        .iter()
        .filter(|r| r.kind == MethodKind::Attribution)
        .collect();
    let mut files = write_tables(out, rows, info)?;
    files.extend(write_panels(out, slices, coin, &baselines)?);
    files.extend(write_plots(out, run, rows)?);
    write_page(out, rows, info, &baselines, &files)?;
    Ok(files)
}

/// `report.md` and `report.json`.
fn write_tables(out: &Path, rows: &[MethodResult], info: &PageInfo) -> Result<Vec<String>> {
    let mut files = Vec::new();
    // The table and the JSON.
    let mut md = format!("# {}\n\n", info.title);
    for f in &info.facts {
        md += &format!("- {f}\n");
    }
    md += "\n";
    md += &markdown_table(rows);
    md += "\n";
    for n in &info.notes {
        md += &format!("- {n}\n");
    }
    write_atomic(&out.join("report.md"), md.as_bytes())?;
    let json = serde_json::to_vec_pretty(rows).map_err(|e| Error::Format(e.to_string()))?;
    write_atomic(&out.join("report.json"), &json)?;
    files.extend(["report.md".to_string(), "report.json".to_string()]);

    Ok(files)
}

/// The best and the worst slices by COIN's per-image IoU, as panels.
fn write_panels(
    out: &Path,
    slices: &[EvalSlice],
    coin: &MethodResult,
    baselines: &[&MethodResult],
) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let mut order: Vec<(usize, f64)> = slices
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut c = super::metrics::Confusion::default();
            c.add(
                mask(&coin.maps[i], coin.threshold).into_iter(),
                s.truth.iter().map(|&t| t > 0),
            );
            (i, c.iou())
        })
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let k = order.len().min(4);
    let best: Vec<usize> = order[..k].iter().map(|p| p.0).collect();
    let worst: Vec<usize> = order[order.len() - k..].iter().rev().map(|p| p.0).collect();
    for (name, picks) in [("panels-best.png", &best), ("panels-worst.png", &worst)] {
        if !picks.is_empty() {
            panels(&out.join(name), slices, picks, coin, baselines)?;
            files.push(name.to_string());
        }
    }

    Ok(files)
}

/// The threshold sweep, the per-image IoU histogram, and the run's own curves.
fn write_plots(out: &Path, run: &Path, rows: &[MethodResult]) -> Result<Vec<String>> {
    let mut files = Vec::new();
    // Plots.
    let sweep: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|r| (r.method.clone(), r.sweep.clone()))
        .collect();
    save_line_plot(
        &out.join("sweep.svg"),
        "pooled IoU against the threshold",
        "threshold (COIN: |x − x_cf| in [0, 1]; baselines: normalised saliency)",
        &sweep,
    )?;
    let hist: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|r| {
            let mut bins = [0usize; 20];
            for &v in &r.per_image_iou {
                bins[((v * 20.0) as usize).min(19)] += 1;
            }
            let n = r.per_image_iou.len().max(1) as f64;
            let pts = bins
                .iter()
                .enumerate()
                .map(|(b, &c)| ((b as f64 + 0.5) / 20.0, c as f64 / n))
                .collect();
            (r.method.clone(), pts)
        })
        .collect();
    save_line_plot(
        &out.join("per-image-iou.svg"),
        "per-image IoU: fraction of slices in each 0.05 bin",
        "per-image IoU",
        &hist,
    )?;
    files.extend(["sweep.svg".to_string(), "per-image-iou.svg".to_string()]);
    for name in ["loss.svg", "val_iou.svg"] {
        if run.join(name).is_file() {
            std::fs::copy(run.join(name), out.join(name))?;
            files.push(name.to_string());
        }
    }

    Ok(files)
}

/// `index.html`, linking what the other writers wrote.
fn write_page(
    out: &Path,
    rows: &[MethodResult],
    info: &PageInfo,
    baselines: &[&MethodResult],
    files: &[String],
) -> Result<()> {
    let mut h = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title>\n<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}} td:first-child{{text-align:left}} img{{max-width:100%}}</style></head><body>\n<h1>{0}</h1>\n<ul>\n",
        html_escape(&info.title)
    );
    for f in &info.facts {
        h += &format!("<li>{}</li>\n", html_escape(f));
    }
    h += "</ul>\n<h2>Segmentation on the test slices</h2>\n";
    h += &html_table(rows);
    h += "<ul>\n";
    for n in &info.notes {
        h += &format!("<li>{}</li>\n", html_escape(n));
    }
    h += "</ul>\n<p>Files: <a href=\"report.md\">report.md</a>, <a href=\"report.json\">report.json</a></p>\n";
    let columns =
        std::iter::once("input, counterfactual, |x − x_cf|, COIN mask on the input (true positive green, false positive red, false negative blue), ground truth".to_string())
            .chain(baselines.iter().map(|b| b.method.clone()))
            .collect::<Vec<_>>()
            .join(", ");
    for (name, what) in [
        ("panels-best.png", "The slices COIN segments best"),
        ("panels-worst.png", "The slices COIN segments worst"),
    ] {
        if files.iter().any(|f| f == name) {
            h += &format!(
                "<h2>{what}</h2>\n<p>Columns: {}.</p>\n<img src=\"{name}\" alt=\"{what}\">\n",
                html_escape(&columns)
            );
        }
    }
    for (name, what) in [
        ("sweep.svg", "Threshold sweep"),
        ("per-image-iou.svg", "Per-image IoU distribution"),
        ("loss.svg", "Training losses"),
        ("val_iou.svg", "Validation IoU during training"),
    ] {
        if files.iter().any(|f| f == name) {
            h += &format!("<h2>{what}</h2>\n<img src=\"{name}\" alt=\"{what}\">\n");
        }
    }
    h += "</body></html>\n";
    write_atomic(&out.join("index.html"), h.as_bytes())?;
    Ok(())
}
