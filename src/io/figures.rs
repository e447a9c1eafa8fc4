//! Figures without system fonts: PNG sample panels and SVG line plots.

use crate::Result;
use std::path::Path;

/// One slice for a sample panel: input, counterfactual, ground truth (rows × cols).
#[derive(Clone, Debug)]
pub struct Panel {
    pub rows: usize,
    pub cols: usize,
    pub x: Vec<f32>,
    pub x_cf: Vec<f32>,
    pub truth: Vec<u8>,
}

fn to_u8(v: f32, lo: f32, hi: f32) -> u8 {
    (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0).round() as u8
}

/// One row per panel: input, counterfactual, |difference| (in [0, 1] units, ×2 brightened),
/// ground truth; images in [−1, 1] shown as grey levels.
pub fn save_panels(path: &Path, panels: &[Panel]) -> Result<()> {
    let Some(first) = panels.first() else {
        return Ok(());
    };
    let grid: Vec<Vec<Vec<u8>>> = panels
        .iter()
        .map(|p| {
            let diff: Vec<f32> =
                p.x.iter()
                    .zip(&p.x_cf)
                    .map(|(a, b)| (a - b).abs())
                    .collect();
            let truth: Vec<f32> = p.truth.iter().map(|&t| (t > 0) as u8 as f32).collect();
            vec![
                grey(&p.x, -1.0, 1.0),
                grey(&p.x_cf, -1.0, 1.0),
                grey(&diff, 0.0, 1.0),
                grey(&truth, 0.0, 1.0),
            ]
        })
        .collect();
    save_grid(path, &grid, first.rows, first.cols)
}

/// A line plot of named series (x, y) as SVG, with axes, ticks and a legend.
pub fn save_line_plot(
    path: &Path,
    title: &str,
    x_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .filter(|p| p.1.is_finite())
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in &pts {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if pts.is_empty() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let (w, h, m) = (720.0, 420.0, 60.0);
    let sx = |x: f64| m + (x - x0) / (x1 - x0) * (w - 2.0 * m);
    let sy = |y: f64| h - m - (y - y0) / (y1 - y0) * (h - 2.0 * m);
    let colors = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    ];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{title}</text>\n\
         <line x1=\"{m}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n<line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{}\" stroke=\"black\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{x_label}</text>\n",
        w / 2.0, h - m, w - m, h - m, h - m, w / 2.0, h - 15.0
    );
    for i in 0..=4 {
        let fx = x0 + (x1 - x0) * i as f64 / 4.0;
        let fy = y0 + (y1 - y0) * i as f64 / 4.0;
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{fx:.3}</text>\n",
            sx(fx),
            h - m + 16.0
        );
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{fy:.3}</text>\n",
            m - 4.0,
            sy(fy) + 4.0
        );
    }
    for (k, (name, pts)) in series.iter().enumerate() {
        let col = colors[k % colors.len()];
        let path: Vec<String> = pts
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        if !path.is_empty() {
            s += &format!(
                "<polyline fill=\"none\" stroke=\"{col}\" stroke-width=\"1.5\" points=\"{}\"/>\n",
                path.join(" ")
            );
        }
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{col}\">{name}</text>\n",
            w - m - 150.0,
            m + 14.0 * k as f64
        );
    }
    s += "</svg>\n";
    std::fs::write(path, s)?;
    Ok(())
}

/// Grey levels of `values` mapped linearly from `[lo, hi]`.
pub fn grey(values: &[f32], lo: f32, hi: f32) -> Vec<u8> {
    values.iter().map(|&v| to_u8(v, lo, hi)).collect()
}

/// An RGB pixel.
pub type Rgb = [u8; 3];

/// The colours of a mask against the ground truth (the report's panels, `segment --preview`'s
/// outline): true positive green, false positive red, false negative blue.
pub const TRUE_POSITIVE: Rgb = [40, 220, 60];
pub const FALSE_POSITIVE: Rgb = [235, 40, 40];
pub const FALSE_NEGATIVE: Rgb = [50, 110, 255];

/// A grey tile as RGB.
pub fn rgb(grey: &[u8]) -> Vec<Rgb> {
    grey.iter().map(|&g| [g, g, g]).collect()
}

/// The input `x` in [−1, 1] as grey, with each pixel of `mask` coloured against `truth`: true
/// positives, false positives and false negatives in their colours.
pub fn overlay(x: &[f32], mask: &[bool], truth: &[bool]) -> Vec<Rgb> {
    x.iter()
        .zip(mask.iter().zip(truth))
        .map(|(&v, (&m, &t))| match (m, t) {
            (true, true) => TRUE_POSITIVE,
            (true, false) => FALSE_POSITIVE,
            (false, true) => FALSE_NEGATIVE,
            (false, false) => {
                let g = to_u8(v, -1.0, 1.0);
                [g, g, g]
            }
        })
        .collect()
}

/// A PNG grid of equally sized grey tiles (`rows × cols` each), one image row per `grid` row,
/// 2-pixel gaps.
pub fn save_grid(path: &Path, grid: &[Vec<Vec<u8>>], rows: usize, cols: usize) -> Result<()> {
    let grid: Vec<Vec<Vec<Rgb>>> = grid
        .iter()
        .map(|r| r.iter().map(|t| rgb(t)).collect())
        .collect();
    save_rgb_grid(path, &grid, rows, cols)
}

/// [`save_grid`] of RGB tiles.
pub fn save_rgb_grid(path: &Path, grid: &[Vec<Vec<Rgb>>], rows: usize, cols: usize) -> Result<()> {
    let n_cols = grid.iter().map(|r| r.len()).max().unwrap_or(0);
    if n_cols == 0 {
        return Err(crate::Error::Invalid(format!(
            "{}: no tiles to draw",
            path.display()
        )));
    }
    let (w, h) = (n_cols * (cols + 2), grid.len() * (rows + 2));
    let mut px = vec![[64u8; 3]; w * h];
    for (k, tiles) in grid.iter().enumerate() {
        for (t, tile) in tiles.iter().enumerate() {
            if tile.len() != rows * cols {
                return Err(crate::Error::Shape(format!(
                    "{}: tile of {} pixels in a {rows}×{cols} grid",
                    path.display(),
                    tile.len()
                )));
            }
            for y in 0..rows {
                let row = k * (rows + 2) + y;
                let col0 = t * (cols + 2);
                px[row * w + col0..row * w + col0 + cols]
                    .copy_from_slice(&tile[y * cols..(y + 1) * cols]);
            }
        }
    }
    let bytes: Vec<u8> = px.into_iter().flatten().collect();
    image::save_buffer(
        path,
        &bytes,
        w as u32,
        h as u32,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| crate::Error::Format(format!("{}: {e}", path.display())))
}
