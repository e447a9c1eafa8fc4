//! The paper's optional mask post-processing (docs/method.md, "Segmentation and metrics"): a 3×3 opening, a 3×3
//! closing (OpenCV `morphologyEx` with its default border: pixels outside the image are neutral,
//! so they neither erode nor dilate), then the largest 8-connected component (scikit-image's
//! `label`; on a tie the component met first in row-major order wins). Masks are row-major
//! `rows × cols` booleans.

use crate::data::components::components;

/// 3×3 erosion (`min`) or dilation (`max`) with out-of-image pixels ignored.
fn filter3(m: &[bool], rows: usize, cols: usize, dilate: bool) -> Vec<bool> {
    let mut out = vec![false; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            let mut acc = !dilate;
            for rr in r.saturating_sub(1)..=(r + 1).min(rows - 1) {
                for cc in c.saturating_sub(1)..=(c + 1).min(cols - 1) {
                    let v = m[rr * cols + cc];
                    acc = if dilate { acc | v } else { acc & v };
                }
            }
            out[r * cols + c] = acc;
        }
    }
    out
}

/// Erosion then dilation: removes specks thinner than 3 pixels.
pub fn open3(m: &[bool], rows: usize, cols: usize) -> Vec<bool> {
    let e = filter3(m, rows, cols, false);
    filter3(&e, rows, cols, true)
}

/// Dilation then erosion: fills gaps narrower than 3 pixels.
pub fn close3(m: &[bool], rows: usize, cols: usize) -> Vec<bool> {
    let d = filter3(m, rows, cols, true);
    filter3(&d, rows, cols, false)
}

/// Keeps only the largest 8-connected component (an empty mask stays empty; of equal ones, the
/// first in the grid).
pub fn largest_component(m: &[bool], rows: usize, cols: usize) -> Vec<bool> {
    let mut out = vec![false; m.len()];
    if let Some(largest) = components(|i| m[i], [cols, rows, 1]).first() {
        for &i in largest {
            out[i] = true;
        }
    }
    out
}

/// Opening, closing, largest component: the paper's `postprocess_morph`.
pub fn postprocess(m: &[bool], rows: usize, cols: usize) -> Vec<bool> {
    assert_eq!(m.len(), rows * cols, "postprocess: mask size");
    if m.is_empty() {
        return Vec::new();
    }
    let o = open3(m, rows, cols);
    let c = close3(&o, rows, cols);
    largest_component(&c, rows, cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[&str]) -> (Vec<bool>, usize, usize) {
        let m = s.iter().flat_map(|r| r.chars().map(|c| c == '#')).collect();
        (m, s.len(), s[0].len())
    }

    #[test]
    fn opening_removes_specks_and_keeps_blocks_touching_the_border() {
        let (m, r, c) = parse(&["###....", "###..#.", "###....", "......#"]);
        let o = open3(&m, r, c);
        let (want, _, _) = parse(&["###....", "###....", "###....", "......."]);
        assert_eq!(o, want);
    }

    #[test]
    fn closing_fills_a_one_pixel_hole() {
        let (m, r, c) = parse(&[
            ".......", ".......", "..###..", "..#.#..", "..###..", ".......", ".......",
        ]);
        let (want, _, _) = parse(&[
            ".......", ".......", "..###..", "..###..", "..###..", ".......", ".......",
        ]);
        assert_eq!(close3(&m, r, c), want);
        // Out-of-image pixels are neutral: a mask touching the border keeps its edge.
        let (m, r, c) = parse(&["###", "#.#", "###"]);
        assert_eq!(close3(&m, r, c), vec![true; 9]);
    }

    #[test]
    fn largest_component_uses_8_connectivity() {
        // The diagonal chain (3 pixels, 8-connected) beats the pair.
        let (m, r, c) = parse(&["#...##", ".#....", "..#..."]);
        let (want, _, _) = parse(&["#.....", ".#....", "..#..."]);
        assert_eq!(largest_component(&m, r, c), want);
    }
}
