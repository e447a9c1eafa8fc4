//! The `segment` binary on a `smoke` model trained in the test: masks land on the input's exact
//! grid and affine whatever the storage orientation (RAS, LPS, in-plane axes swapped), and the
//! same anatomy gives the same mask; the real TotalSegmentator sample; every bad input is a
//! clear error that writes nothing.

use crate::common::files::{sample, smoke_model};
use coin::data::nifti::{read_volume, write_f32, write_labels, Volume};
use coin::data::{patient, PhantomSpec};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coin-segment-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn segment(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_segment"))
        .args(args)
        .args(["--device", "cpu", "--threads", "2"])
        .output()
        .unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "segment failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fails_with(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected a failure with '{needle}'");
    assert!(
        err.contains(needle) && err.starts_with("segment: "),
        "expected '{needle}' in: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// A phantom patient of the smoke run's data (image and kidney labels).
fn phantom() -> (Volume, Volume) {
    let spec = PhantomSpec {
        nz: 16,
        seed: 777,
        ..PhantomSpec::default()
    };
    let p = patient(&spec, 3);
    (p.image, p.labels)
}

/// The same anatomy stored another way: `map(i, j)` gives the RAS voxel (x, y) stored at
/// (i, j) of the new volume, whose affine is `affine`.
fn restored(
    v: &Volume,
    dims: [usize; 3],
    srow: [[f32; 4]; 3],
    swap_xy: bool,
    map: impl Fn(usize, usize) -> (usize, usize),
) -> Volume {
    let mut data = vec![0.0; v.numel()];
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let (x, y) = map(i, j);
                data[i + dims[0] * (j + dims[1] * k)] = v.data[x + v.dims[0] * (y + v.dims[1] * k)];
            }
        }
    }
    let mut g = v.geometry.clone();
    g.srow = srow;
    g.qform_code = 0;
    if swap_xy {
        g.pixdim.swap(1, 2);
    }
    Volume {
        data,
        dims,
        spacing: [g.pixdim[1], g.pixdim[2], g.pixdim[3]],
        affine: coin::data::nifti::affine(&g),
        geometry: g,
        source: v.source.clone(),
    }
}

/// LPS storage: x and y both reversed.
fn lps(v: &Volume) -> Volume {
    let [nx, ny, _] = v.dims;
    let s = v.geometry.srow;
    let mut srow = s;
    for (r, row) in srow.iter_mut().enumerate() {
        row[0] = -s[r][0];
        row[1] = -s[r][1];
        row[3] = s[r][3] + s[r][0] * (nx - 1) as f32 + s[r][1] * (ny - 1) as f32;
    }
    restored(v, v.dims, srow, false, |i, j| (nx - 1 - i, ny - 1 - j))
}

/// The in-plane axes swapped (y stored first).
fn transposed(v: &Volume) -> Volume {
    let [nx, ny, nz] = v.dims;
    let s = v.geometry.srow;
    let mut srow = s;
    for row in srow.iter_mut() {
        row.swap(0, 1);
    }
    restored(v, [ny, nx, nz], srow, true, |i, j| (j, i))
}

fn write_pair(d: &Path, name: &str, img: &Volume, lab: &Volume) -> (PathBuf, PathBuf) {
    let (pi, pl) = (
        d.join(format!("{name}.nii.gz")),
        d.join(format!("{name}-kidney.nii.gz")),
    );
    write_f32(&pi, &img.data, img).unwrap();
    let ids: Vec<u8> = lab.data.iter().map(|&v| v as u8).collect();
    write_labels(&pl, &ids, lab).unwrap();
    (pi, pl)
}

fn csv_rows(p: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

#[test]
fn masks_are_on_the_input_grid_and_agree_across_orientations() {
    let run = smoke_model();
    let d = dir("orient");
    let (img, lab) = phantom();
    let variants = [
        ("ras", img.clone(), lab.clone()),
        ("lps", lps(&img), lps(&lab)),
        ("transposed", transposed(&img), transposed(&lab)),
    ];
    // A threshold that splits the processed pixels: the median of the RAS difference map.
    let run_variant = |name: &str, vi: &Volume, vl: &Volume, threshold: &str| {
        let (pi, pl) = write_pair(&d, name, vi, vl);
        let p = |s: &str| d.join(format!("{name}{s}"));
        let out = segment(&[
            Path::new("--model"),
            run,
            Path::new("--input"),
            &pi,
            Path::new("--output"),
            &p("-mask.nii.gz"),
            Path::new("--organ-mask"),
            &pl,
            Path::new("--organ-labels"),
            Path::new("1"),
            Path::new("--threshold"),
            Path::new(threshold),
            Path::new("--csv"),
            &p(".csv"),
            Path::new("--save-difference"),
            &p("-diff.nii.gz"),
            Path::new("--force"),
        ]);
        ok(&out);
        let input = read_volume(&pi).unwrap();
        let (m, diff) = (
            read_volume(&p("-mask.nii.gz")).unwrap(),
            read_volume(&p("-diff.nii.gz")).unwrap(),
        );
        assert_eq!(m.dims, input.dims, "{name}: mask dims");
        assert_eq!(m.affine, input.affine, "{name}: mask affine");
        assert_eq!(m.geometry, input.geometry, "{name}: mask header geometry");
        assert!(m.data.iter().all(|&v| v == 0.0 || v == 1.0), "{name}");
        let rows = csv_rows(&p(".csv"));
        assert!(!rows.is_empty(), "{name}: no slices processed");
        assert!(
            rows.iter().all(|r| r[0] == "2"),
            "{name}: the axial axis is 2"
        );
        (m, diff, rows)
    };
    let (_, diff, _) = run_variant("ras", &img, &lab, "0.5");
    let mut nonzero: Vec<f32> = diff.data.iter().copied().filter(|&v| v > 0.0).collect();
    nonzero.sort_by(f32::total_cmp);
    let median = format!("{}", nonzero[nonzero.len() / 2]);
    let masks: Vec<_> = variants
        .iter()
        .map(|(name, vi, vl)| run_variant(name, vi, vl, &median))
        .collect();
    // Back in RAS voxel order, every variant's mask is the RAS one, voxel for voxel.
    let (ras, ras_diff, ras_rows) = &masks[0];
    let [nx, ny, nz] = ras.dims;
    let ones = ras.data.iter().filter(|&&v| v == 1.0).count();
    let processed: Vec<usize> = ras_rows.iter().map(|r| r[1].parse().unwrap()).collect();
    let in_slices = processed.len() * nx * ny;
    assert!(
        ones > in_slices / 5 && ones < in_slices * 4 / 5,
        "a near-trivial mask: {ones} of {in_slices} voxels"
    );
    for (k, (m, diff, rows)) in masks.iter().enumerate().skip(1) {
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let (i, j) = if k == 1 {
                        (nx - 1 - x, ny - 1 - y)
                    } else {
                        (y, x)
                    };
                    let (a, b) = (i + m.dims[0] * (j + m.dims[1] * z), x + nx * (y + ny * z));
                    assert_eq!(
                        (m.data[a], diff.data[a]),
                        (ras.data[b], ras_diff.data[b]),
                        "{}: voxel ({x}, {y}, {z})",
                        variants[k].0
                    );
                }
            }
        }
        assert_eq!(rows, ras_rows, "{}: per-slice table", variants[k].0);
    }
    // Slices outside the organ filter are untouched.
    for z in (0..nz).filter(|z| !processed.contains(z)) {
        assert!(ras.data[z * nx * ny..(z + 1) * nx * ny]
            .iter()
            .all(|&v| v == 0.0));
    }
}

#[test]
fn folder_mode_and_optional_outputs() {
    let run = smoke_model();
    let d = dir("folder");
    let (img, _) = phantom();
    let inputs = d.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    write_f32(&inputs.join("a.nii.gz"), &img.data, &img).unwrap();
    let l = lps(&img);
    write_f32(&inputs.join("b.nii"), &l.data, &l).unwrap();
    let (out, cf, diff) = (d.join("out"), d.join("cf"), d.join("diff"));
    let o = segment(&[
        Path::new("--model"),
        run,
        Path::new("--input"),
        &inputs,
        Path::new("--output"),
        &out,
        Path::new("--save-counterfactual"),
        &cf,
        Path::new("--save-difference"),
        &diff,
        Path::new("--postprocess"),
    ]);
    ok(&o);
    for name in ["a.nii.gz", "b.nii"] {
        let input = read_volume(&inputs.join(name)).unwrap();
        for folder in [&out, &cf, &diff] {
            let v = read_volume(&folder.join(name)).unwrap();
            assert_eq!((v.dims, v.affine), (input.dims, input.affine), "{name}");
        }
        // Every slice was processed (no organ mask): the difference map is in [0, 1] and the
        // counterfactual is the input where the difference is zero.
        let dv = read_volume(&diff.join(name)).unwrap();
        let cv = read_volume(&cf.join(name)).unwrap();
        assert!(dv.data.iter().all(|&x| (0.0..=1.0).contains(&x)));
        assert!(dv.data.iter().any(|&x| x > 0.0));
        for ((&c, &i), &df) in cv.data.iter().zip(&input.data).zip(&dv.data) {
            if df == 0.0 {
                assert!((c - i).abs() < 1e-3, "{c} vs {i}");
            }
        }
    }
}

#[test]
fn segments_the_real_totalsegmentator_sample() {
    let (Some(ct), Some(seg)) = (
        sample("totalsegmentator/example_ct_sm.nii.gz"),
        sample("totalsegmentator/example_seg.nii.gz"),
    ) else {
        return;
    };
    let run = smoke_model();
    let d = dir("real");
    let (mask, csv) = (d.join("mask.nii.gz"), d.join("slices.csv"));
    let out = segment(&[
        Path::new("--model"),
        run,
        Path::new("--input"),
        &ct,
        Path::new("--output"),
        &mask,
        Path::new("--organ-mask"),
        &seg,
        Path::new("--organ-labels"),
        Path::new("2,3"),
        Path::new("--csv"),
        &csv,
    ]);
    ok(&out);
    let (input, m) = (read_volume(&ct).unwrap(), read_volume(&mask).unwrap());
    assert_eq!((m.dims, m.affine), (input.dims, input.affine));
    let rows = csv_rows(&csv);
    // Kidney slices by training's filter (32 voxels at 1.5 mm, 8 at this scan's 3 mm).
    assert!(
        rows.len() >= 21 && rows.len() <= 30,
        "{} slices",
        rows.len()
    );
    for r in &rows {
        let organ: usize = r[2].parse().unwrap();
        assert!(organ > 8);
        let (p0, p1): (f64, f64) = (r[3].parse().unwrap(), r[4].parse().unwrap());
        assert!((0.0..=1.0).contains(&p0) && (0.0..=1.0).contains(&p1));
    }
}

#[test]
fn bad_inputs_are_clear_errors_that_write_nothing() {
    let run = smoke_model();
    let d = dir("bad");
    let (img, lab) = phantom();
    let (pi, _) = write_pair(&d, "ras", &img, &lab);
    let t = transposed(&lab);
    let other_grid = d.join("other-grid.nii.gz");
    let ids: Vec<u8> = t.data.iter().map(|&v| v as u8).collect();
    write_labels(&other_grid, &ids, &t).unwrap();
    let text = d.join("notes.nii.gz");
    std::fs::write(&text, "not a scan").unwrap();
    let out = d.join("mask.nii.gz");
    let m = Path::new("--model");
    let (i, o) = (Path::new("--input"), Path::new("--output"));

    fails_with(&segment(&[m, run, i, &text, o, &out]), "notes.nii.gz");
    if let Some(four) = sample("nibabel/example4d.nii.gz") {
        fails_with(&segment(&[m, run, i, &four, o, &out]), "only 3-D");
    }
    fails_with(
        &segment(&[
            m,
            run,
            i,
            &pi,
            o,
            &out,
            Path::new("--organ-mask"),
            &other_grid,
        ]),
        "another grid",
    );
    let empty = d.join("empty-run");
    std::fs::create_dir_all(&empty).unwrap();
    fails_with(
        &segment(&[m, &empty, i, &pi, o, &out]),
        "holds no trained COIN model",
    );
    fails_with(
        &segment(&[m, &d.join("nowhere"), i, &pi, o, &out]),
        "no such folder",
    );
    fails_with(
        &segment(&[m, run, i, &d.join("missing.nii.gz"), o, &out]),
        "no such file",
    );
    assert!(!out.exists(), "a failed run wrote {}", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // An existing output is kept unless --force.
    std::fs::write(&out, "keep me").unwrap();
    fails_with(&segment(&[m, run, i, &pi, o, &out]), "--force");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    ok(&segment(&[m, run, i, &pi, o, &out, Path::new("--force")]));
    assert_eq!(read_volume(&out).unwrap().dims, img.dims);
}

/// A DICOM series (TotalSegmentator's 20 JPEG 2000 slices): the mask lands on dcm2niix's grid of
/// the series — the grid of TotalSegmentator's own mask of it — with or without that mask as
/// the organ mask (the liver, label 5); an unknown --series lists the folder's series.
#[test]
fn segments_a_dicom_series_on_the_dcm2niix_grid() {
    let (Some(series), Some(seg)) = (
        sample("totalsegmentator/example_ct_dicom"),
        sample("totalsegmentator/example_seg_dicom.nii.gz"),
    ) else {
        return;
    };
    let run = smoke_model();
    let d = dir("dicom");
    let reference = read_volume(&seg).unwrap();
    for organ in [false, true] {
        let mask = d.join(format!("mask-{organ}.nii.gz"));
        let mut args = vec![
            Path::new("--model"),
            run,
            Path::new("--input"),
            &series,
            Path::new("--output"),
            &mask,
        ];
        if organ {
            args.extend([
                Path::new("--organ-mask"),
                &seg,
                Path::new("--organ-labels"),
                Path::new("5"),
            ]);
        }
        ok(&segment(&args));
        let m = read_volume(&mask).unwrap();
        assert_eq!(m.dims, reference.dims);
        for i in 0..3 {
            for j in 0..4 {
                let (a, b) = (m.affine[i][j], reference.affine[i][j]);
                assert!((a - b).abs() < 0.01, "affine[{i}][{j}]: {a} vs {b}");
            }
        }
    }
    let out = segment(&[
        Path::new("--model"),
        run,
        Path::new("--input"),
        &series,
        Path::new("--output"),
        &d.join("never.nii.gz"),
        Path::new("--series"),
        Path::new("1.2.3.4"),
    ]);
    fails_with(&out, "holds no series 1.2.3.4");
    assert!(!d.join("never.nii.gz").exists());
}

/// Folder mode with a phantom patient written as a DICOM series beside a NIfTI file: the series
/// folder S gives S.nii.gz on its own grid, and the patient's name in the files reaches no
/// output or log.
#[test]
fn folder_mode_reads_series_folders_and_keeps_patient_names_out() {
    use coin::data::dicom::{read_series, write_series, SeriesMeta};
    let run = smoke_model();
    let d = dir("dicom-folder");
    let (img, _) = phantom();
    let inputs = d.join("in");
    let meta = SeriesMeta {
        patient: "DOE^JANE",
        uid_seed: 11,
    };
    write_series(
        &inputs.join("ct_series"),
        &img.data,
        img.dims,
        &img.affine,
        &meta,
    )
    .unwrap();
    write_f32(&inputs.join("plain.nii.gz"), &img.data, &img).unwrap();
    let outdir = d.join("out");
    let csvdir = d.join("csv");
    let out = segment(&[
        Path::new("--model"),
        run,
        Path::new("--input"),
        &inputs,
        Path::new("--output"),
        &outdir,
        Path::new("--csv"),
        &csvdir,
    ]);
    ok(&out);
    let series = read_series(&inputs.join("ct_series"), None).unwrap();
    let m = read_volume(&outdir.join("ct_series.nii.gz")).unwrap();
    assert_eq!(m.dims, series.dims);
    for i in 0..3 {
        for j in 0..4 {
            assert!((m.affine[i][j] - series.affine[i][j]).abs() < 1e-3);
        }
    }
    assert!(outdir.join("plain.nii.gz").is_file());
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(csvdir.join("ct_series.csv")).unwrap();
    // The mask's bytes as written, decompressed (its header has free-text fields).
    let mut mask_bytes = Vec::new();
    let gz = std::fs::File::open(outdir.join("ct_series.nii.gz")).unwrap();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut mask_bytes).unwrap();
    assert!(mask_bytes.len() > 348, "a NIfTI header and voxels");
    // The sidecar names the series' files and checksums them, and copies no header.
    let sidecar = std::fs::read_to_string(outdir.join("ct_series.json")).unwrap();
    let side: serde_json::Value = serde_json::from_str(&sidecar).unwrap();
    let files = side["input"]["files"].as_array().unwrap();
    assert!(files.len() > 1 && side["input"]["sha256"].as_str().unwrap().len() == 64);
    let names: Vec<&str> = files.iter().map(|f| f.as_str().unwrap()).collect();
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "sorted by name: {names:?}"
    );
    for hay in [
        logs.as_bytes(),
        csv.as_bytes(),
        &mask_bytes[..],
        sidecar.as_bytes(),
    ] {
        assert!(
            !hay.windows(8).any(|w| w == b"DOE^JANE"),
            "the patient's name reached an output"
        );
    }
}
