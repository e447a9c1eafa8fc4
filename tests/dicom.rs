//! DICOM series in (src/data/dicom.rs): TotalSegmentator's 20-slice JPEG 2000 series against the
//! mask TotalSegmentator wrote for it through dcm2niix (scripts/fetch-sample-data.sh; skipped
//! without the files, a failure under COIN_REQUIRE_SAMPLE_DATA=1), the phantom written as a
//! series and read back, and every refusal naming its file or tag.

use crate::common::files::sample;
use coin::data::dicom::{list_series, read_series, write_series, SeriesMeta};
use coin::data::{read_scan, read_volume, Volume};
use std::path::{Path, PathBuf};

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coin-dicom-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The series on the grid of dcm2niix's conversion: the mask's shape and affine to 0.01 mm.
#[test]
fn sample_series_reads_on_the_dcm2niix_grid() {
    let (Some(dir), Some(mask)) = (
        sample("totalsegmentator/example_ct_dicom"),
        sample("totalsegmentator/example_seg_dicom.nii.gz"),
    ) else {
        return;
    };
    let series = list_series(&dir).unwrap();
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(series[0].files, 20);
    let v = read_scan(&dir, None).unwrap();
    let m = read_volume(&mask).unwrap();
    assert_eq!(v.dims, m.dims);
    assert_eq!(v.dims, [512, 512, 20]);
    for i in 0..3 {
        for j in 0..4 {
            let (a, b) = (v.affine[i][j], m.affine[i][j]);
            assert!((a - b).abs() < 0.01, "affine[{i}][{j}]: {a} vs {b}");
        }
    }
    // HU: air outside the body, soft tissue and bone inside, the −1024 intercept applied.
    let (min, max) = v
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert!(
        (-1100.0..=-900.0).contains(&min) && max > 500.0,
        "HU range {min}..{max}"
    );
    // The liver (label 5) lies in soft tissue: its median HU is that of liver, not air or bone.
    let mut liver: Vec<f32> = v
        .data
        .iter()
        .zip(&m.data)
        .filter(|(_, &l)| l == 5.0)
        .map(|(&h, _)| h)
        .collect();
    assert!(liver.len() > 1000);
    liver.sort_by(f32::total_cmp);
    let median = liver[liver.len() / 2];
    assert!((0.0..200.0).contains(&median), "liver median {median} HU");
}

fn phantom_like() -> (Vec<f32>, [usize; 3], [[f64; 4]; 4]) {
    let dims = [12, 9, 5];
    let hu: Vec<f32> = (0..12 * 9 * 5)
        .map(|i| ((i * 37) % 400) as f32 - 150.0)
        .collect();
    let affine = [
        [0.8, 0.0, 0.0, -40.0],
        [0.0, 0.7, 0.0, 10.0],
        [0.0, 0.0, 2.5, -100.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    (hu, dims, affine)
}

fn write(dir: &Path, seed: u64) {
    let (hu, dims, affine) = phantom_like();
    let meta = SeriesMeta {
        patient: "COIN^PHANTOM",
        uid_seed: seed,
    };
    write_series(dir, &hu, dims, &affine, &meta).unwrap();
}

/// Written and read back: every voxel at its world position with its HU (y reversed by the
/// dcm2niix convention).
#[test]
fn written_series_reads_back_on_the_same_world_grid() {
    let dir = temp("roundtrip");
    write(&dir, 1);
    let (hu, [nx, ny, nz], a) = phantom_like();
    let v: Volume = read_series(&dir, None).unwrap();
    assert_eq!(v.dims, [nx, ny, nz]);
    let world = |m: &[[f64; 4]; 4], p: [f64; 3]| -> [f64; 3] {
        std::array::from_fn(|i| m[i][0] * p[0] + m[i][1] * p[1] + m[i][2] * p[2] + m[i][3])
    };
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let want = hu[x + nx * (y + ny * z)];
                let yr = ny - 1 - y;
                assert_eq!(v.data[x + nx * (yr + ny * z)], want.round());
                let (p, q) = (
                    world(&a, [x as f64, y as f64, z as f64]),
                    world(&v.affine, [x as f64, yr as f64, z as f64]),
                );
                for i in 0..3 {
                    assert!(
                        (p[i] - q[i]).abs() < 1e-3,
                        "voxel {x},{y},{z}: {p:?} vs {q:?}"
                    );
                }
            }
        }
    }
    // A mirrored (left-handed) or sheared affine would not read back on its grid: refused.
    let meta = SeriesMeta {
        patient: "COIN^PHANTOM",
        uid_seed: 9,
    };
    let mut mirrored = a;
    mirrored[0][0] = -a[0][0];
    let mut sheared = a;
    sheared[0][2] = 0.5;
    for bad in [mirrored, sheared] {
        let e = write_series(&dir.join("bad"), &hu, [nx, ny, nz], &bad, &meta).unwrap_err();
        assert!(
            e.to_string().contains("not orthogonal and right-handed"),
            "{e}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn expect_err(dir: &Path, series: Option<&str>, needles: &[&str]) {
    let e = read_series(dir, series).unwrap_err().to_string();
    for n in needles {
        assert!(e.contains(n), "{e:?} does not name {n:?}");
    }
    assert!(
        !e.contains("COIN^PHANTOM"),
        "a patient name reached the message: {e}"
    );
}

/// Edits one slice file's element in place (re-encoded by dicom-rs).
fn edit(file: &Path, f: impl FnOnce(&mut dicom_object::InMemDicomObject)) {
    let mut obj = dicom_object::open_file(file).unwrap();
    f(&mut obj);
    obj.write_to_file(file).unwrap();
}

fn slice(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("IM{n:05}.dcm"))
}

fn put_text(
    obj: &mut dicom_object::InMemDicomObject,
    tag: dicom_core::Tag,
    vr: dicom_core::VR,
    v: &str,
) {
    obj.put(dicom_core::DataElement::new(
        tag,
        vr,
        dicom_core::PrimitiveValue::from(v),
    ));
}

#[test]
fn refusals_name_the_file_or_tag() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    // No DICOM files.
    let empty = temp("empty");
    std::fs::write(empty.join("notes.txt"), "not a slice").unwrap();
    expect_err(&empty, None, &["holds no DICOM files"]);
    // Two series: listed with their UIDs; --series picks one; an unknown UID lists them.
    let two = temp("two");
    write(&two.join("a"), 1);
    write(&two.join("b"), 2);
    for f in std::fs::read_dir(two.join("b")).unwrap() {
        let f = f.unwrap().path();
        let to = two.join(format!("b-{}", f.file_name().unwrap().to_string_lossy()));
        std::fs::rename(&f, to).unwrap();
    }
    for f in std::fs::read_dir(two.join("a")).unwrap() {
        let f = f.unwrap().path();
        std::fs::rename(&f, two.join(f.file_name().unwrap())).unwrap();
    }
    let series = list_series(&two).unwrap();
    assert_eq!(series.len(), 2);
    expect_err(
        &two,
        None,
        &["holds 2 series", "--series", &series[0].uid, &series[1].uid],
    );
    let picked = read_series(&two, Some(&series[1].uid)).unwrap();
    assert_eq!(picked.dims, [12, 9, 5]);
    expect_err(&two, Some("1.2.3"), &["no series 1.2.3", &series[0].uid]);
    // A scout among them is marked.
    edit(&two.join("IM00001.dcm"), |o| {
        put_text(o, tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\LOCALIZER")
    });
    expect_err(&two, None, &["scout"]);
    // A file the reader cannot take (here multi-frame) refuses its own series only.
    let other = two.join("b-IM00002.dcm");
    edit(&other, |o| put_text(o, tags::NUMBER_OF_FRAMES, VR::IS, "5"));
    let b_uid = dicom_object::open_file(&other)
        .unwrap()
        .element(tags::SERIES_INSTANCE_UID)
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches('\0')
        .to_string();
    let a_uid = &series.iter().find(|s| s.uid != b_uid).unwrap().uid;
    assert_eq!(read_series(&two, Some(a_uid)).unwrap().dims, [12, 9, 5]);
    let e = read_series(&two, Some(&b_uid)).unwrap_err().to_string();
    assert!(
        e.contains("multi-frame") && e.contains("b-IM00002.dcm"),
        "{e}"
    );
    // Gantry tilt: slice 3 shifted in-plane by 1 mm.
    let tilt = temp("tilt");
    write(&tilt, 3);
    let (_, _, a) = phantom_like();
    let z = |k: f64| a[2][3] + k * a[2][2];
    edit(&slice(&tilt, 3), |o| {
        let pos = format!("{}\\{}\\{}", 40.0 + 1.0, -10.0 - 0.7 * 8.0, z(2.0));
        put_text(o, tags::IMAGE_POSITION_PATIENT, VR::DS, &pos)
    });
    expect_err(&tilt, None, &["gantry tilt", "IM00003.dcm"]);
    // A missing slice: spacing 5 mm where the median is 2.5 mm.
    let gap = temp("gap");
    write(&gap, 4);
    std::fs::remove_file(slice(&gap, 3)).unwrap();
    expect_err(&gap, None, &["median spacing", "IM00004.dcm"]);
    // A duplicate position.
    let dup = temp("dup");
    write(&dup, 5);
    std::fs::copy(slice(&dup, 2), dup.join("IM00099.dcm")).unwrap();
    edit(&dup.join("IM00099.dcm"), |o| {
        put_text(o, tags::SOP_INSTANCE_UID, VR::UI, "2.25.99")
    });
    expect_err(&dup, None, &["same position"]);
    // A multi-frame object.
    let multi = temp("multi");
    write(&multi, 6);
    edit(&slice(&multi, 1), |o| {
        put_text(o, tags::NUMBER_OF_FRAMES, VR::IS, "5")
    });
    expect_err(&multi, None, &["multi-frame", "IM00001.dcm"]);
    // An unsupported transfer syntax (JPEG-LS lossless), named by its UID.
    let jls = temp("jpegls");
    write(&jls, 7);
    let mut obj = dicom_object::open_file(slice(&jls, 2)).unwrap();
    obj.meta_mut().transfer_syntax = "1.2.840.10008.1.2.4.80".to_string();
    obj.write_to_file(slice(&jls, 2)).unwrap();
    expect_err(
        &jls,
        None,
        &["transfer syntax 1.2.840.10008.1.2.4.80", "IM00002.dcm"],
    );
    for d in [empty, two, tilt, gap, dup, multi, jls] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The phantom written as DICOM series (`phantom --dicom`): the series as read and its labels
/// hold the phantom's patient voxel for voxel (on the reversed-rows grid), and a `smoke` run
/// trains from the folder of series.
#[test]
fn smoke_run_trains_from_a_folder_of_series() {
    use std::process::Command;
    let root = temp("train");
    let data = root.join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_phantom"))
        .args(["--dicom", "--slices", "16", "--out"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let series = data.join("train/patient_000");
    assert!(series.join("IM00001.dcm").is_file());
    let v = read_scan(&series, None).unwrap();
    let l = read_volume(&data.join("nnUNet_predictions/patient_000.nii.gz")).unwrap();
    assert_eq!((v.dims, v.affine), (l.dims, l.affine));
    // Voxel for voxel the phantom's patient 0, rows reversed: its HU (rounded) and its labels.
    let spec = coin::data::PhantomSpec {
        nz: 16,
        ..Default::default()
    };
    let p = coin::data::patient(&spec, 0);
    let [nx, ny, nz] = p.image.dims;
    assert_eq!(v.dims, [nx, ny, nz]);
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let (src, dst) = (x + nx * (y + ny * z), x + nx * (ny - 1 - y + ny * z));
                assert_eq!(l.data[dst], p.labels.data[src], "label at {x},{y},{z}");
                assert!((v.data[dst] - p.image.data[src]).abs() <= 0.5 + 1e-3);
            }
        }
    }
    let run = root.join("run");
    let out = crate::common::files::train_smoke_on(Some(&data), &run, &root);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(run.join("summary.json").is_file());
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!logs.contains("PHANTOM^"), "a patient name reached the log");
    let _ = std::fs::remove_dir_all(&root);
}

/// One slice in every transfer syntax the reader decodes that a real file carries here
/// (pydicom's MR_small in explicit and implicit VR little endian, explicit big endian, RLE and
/// JPEG 2000 lossless; tests/fixtures/dicom's JPEG-lossless copy of it, made by
/// scripts/make-dicom-fixture.py) decodes to the same values, as a one-slice series whose slice
/// spacing is its SliceThickness; its JPEG-LS copy is refused naming the transfer syntax.
#[test]
fn each_transfer_syntax_decodes_to_the_same_slice() {
    let Some(explicit) = sample("pydicom/MR_small.dcm") else {
        return;
    };
    let one = |file: &Path, tag: &str| -> Result<Volume, coin::Error> {
        let dir = temp(&format!("ts-{tag}"));
        std::fs::copy(file, dir.join("slice.dcm")).unwrap();
        let v = read_series(&dir, None);
        let _ = std::fs::remove_dir_all(&dir);
        v
    };
    let want = one(&explicit, "explicit").unwrap();
    assert_eq!(want.dims, [64, 64, 1]);
    assert_eq!(want.spacing, [0.3125, 0.3125, 0.8]);
    let (min, max) = want
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert_eq!((min, max), (127.0, 2145.0), "MR_small's stored range");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dicom/MR_small_jpeg_lossless.dcm");
    let mut files = vec![(fixture, "jpeg-lossless".to_string())];
    for name in ["implicit", "bigendian", "RLE", "jp2klossless"] {
        let Some(f) = sample(&format!("pydicom/MR_small_{name}.dcm")) else {
            return;
        };
        files.push((f, name.to_string()));
    }
    for (file, tag) in &files {
        let got = one(file, tag).unwrap_or_else(|e| panic!("{tag}: {e}"));
        assert_eq!((got.dims, got.affine), (want.dims, want.affine), "{tag}");
        assert!(got.data == want.data, "{tag}: the pixels differ");
    }
    let Some(jls) = sample("pydicom/MR_small_jpeg_ls_lossless.dcm") else {
        return;
    };
    let e = one(&jls, "jpeg-ls").unwrap_err().to_string();
    assert!(
        e.contains("transfer syntax 1.2.840.10008.1.2.4.80 is not supported"),
        "{e}"
    );
}
