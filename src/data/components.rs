//! Connected components of a mask on a 3-D grid, 26-connected; a 2-D mask is one slice
//! (`[cols, rows, 1]`), where that is 8-connectivity. Used by the phantom's tumour placement
//! (kidney components), the paper's post-processing (largest component) and `segment`'s
//! sidecar (the findings' volumes).

/// The components of the voxels where `inside(i)` holds, on grid `dims` (x fastest: index
/// `(z·ny + y)·nx + x`): each one's voxel indices in visiting order, largest first, equal
/// sizes in the order their first voxel comes in the grid.
pub fn components(inside: impl Fn(usize) -> bool, dims: [usize; 3]) -> Vec<Vec<usize>> {
    let [nx, ny, nz] = dims;
    let n = nx * ny * nz;
    let mut seen = vec![false; n];
    let mut comps = Vec::new();
    let mut stack = Vec::new();
    for start in 0..n {
        if seen[start] || !inside(start) {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut comp = Vec::new();
        while let Some(i) = stack.pop() {
            comp.push(i);
            let (x, y, z) = (i % nx, i / nx % ny, i / (nx * ny));
            for c in z.saturating_sub(1)..=(z + 1).min(nz - 1) {
                for b in y.saturating_sub(1)..=(y + 1).min(ny - 1) {
                    for a in x.saturating_sub(1)..=(x + 1).min(nx - 1) {
                        let j = (c * ny + b) * nx + a;
                        if !seen[j] && inside(j) {
                            seen[j] = true;
                            stack.push(j);
                        }
                    }
                }
            }
        }
        comps.push(comp);
    }
    comps.sort_by_key(|c| std::cmp::Reverse(c.len()));
    comps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corners_connect_in_3d_and_in_2d_and_ties_keep_grid_order() {
        let at = |x: usize, y: usize, z: usize| (z * 4 + y) * 4 + x;
        let mut m = [false; 48];
        for (x, y, z) in [(0, 0, 0), (1, 1, 1), (3, 3, 2), (3, 2, 2), (3, 0, 0)] {
            m[at(x, y, z)] = true;
        }
        let c = components(|i| m[i], [4, 4, 3]);
        let sizes: Vec<usize> = c.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(
            c[0][0],
            at(0, 0, 0),
            "equal sizes: the first in the grid first"
        );
        // 2-D: diagonal neighbours are one component, a gap of one pixel is not.
        let on = |x: usize, y: usize| y * 4 + x;
        let m2 = [on(0, 0), on(1, 1), on(3, 0), on(3, 2)];
        let c2 = components(|i| m2.contains(&i), [4, 3, 1]);
        let sizes: Vec<usize> = c2.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [2, 1, 1]);
    }
}
