//! NIfTI-1 reading and writing, on files made here (every data type, both byte orders, gzip,
//! scaling, sform and qform) and on hostile ones (each must be an error naming the file).

use coin::data::nifti::{read_volume, read_volume_with, write_labels, ReadLimits};
use std::io::Write;
use std::path::PathBuf;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("coin-nifti-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Options of a hand-made NIfTI-1 file.
struct Spec {
    code: i16,
    bpv: usize,
    big: bool,
    dims: Vec<i16>,
    slope: f32,
    inter: f32,
    sform: Option<[[f32; 4]; 3]>,
    qform: Option<([f32; 3], [f32; 3], f32)>,
    pixdim: [f32; 3],
    sizeof_hdr: i32,
}

impl Spec {
    fn new(code: i16, bpv: usize) -> Spec {
        Spec {
            code,
            bpv,
            big: false,
            dims: vec![3, 4, 3, 2],
            slope: 0.0,
            inter: 0.0,
            sform: None,
            qform: None,
            pixdim: [1.5, 1.5, 3.0],
            sizeof_hdr: 348,
        }
    }
    /// Header + 4 extension bytes + `data` (already in the file's byte order).
    fn bytes(&self, data: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 352];
        let (big, i16b, f32b) = (
            self.big,
            |v: i16, big: bool| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            },
            |v: f32, big: bool| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            },
        );
        h[0..4].copy_from_slice(&if big {
            self.sizeof_hdr.to_be_bytes()
        } else {
            self.sizeof_hdr.to_le_bytes()
        });
        for (k, &d) in self.dims.iter().enumerate() {
            h[40 + 2 * k..42 + 2 * k].copy_from_slice(&i16b(d, big));
        }
        for k in self.dims.len()..8 {
            h[40 + 2 * k..42 + 2 * k].copy_from_slice(&i16b(1, big));
        }
        h[70..72].copy_from_slice(&i16b(self.code, big));
        h[72..74].copy_from_slice(&i16b((self.bpv * 8) as i16, big));
        let qfac = self.qform.map_or(1.0, |q| q.2);
        for (k, v) in [qfac, self.pixdim[0], self.pixdim[1], self.pixdim[2]]
            .into_iter()
            .enumerate()
        {
            h[76 + 4 * k..80 + 4 * k].copy_from_slice(&f32b(v, big));
        }
        h[108..112].copy_from_slice(&f32b(352.0, big));
        h[112..116].copy_from_slice(&f32b(self.slope, big));
        h[116..120].copy_from_slice(&f32b(self.inter, big));
        if let Some((q, o, _)) = self.qform {
            h[252..254].copy_from_slice(&i16b(1, big));
            for k in 0..3 {
                h[256 + 4 * k..260 + 4 * k].copy_from_slice(&f32b(q[k], big));
                h[268 + 4 * k..272 + 4 * k].copy_from_slice(&f32b(o[k], big));
            }
        }
        if let Some(s) = self.sform {
            h[254..256].copy_from_slice(&i16b(2, big));
            for (r, row) in s.iter().enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    h[280 + 16 * r + 4 * c..284 + 16 * r + 4 * c].copy_from_slice(&f32b(v, big));
                }
            }
        }
        h[344..348].copy_from_slice(b"n+1\0");
        h.extend_from_slice(data);
        h
    }
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir().join(name);
    if name.ends_with(".gz") {
        let mut e = flate2::write::GzEncoder::new(
            std::fs::File::create(&p).unwrap(),
            flate2::Compression::fast(),
        );
        e.write_all(bytes).unwrap();
        e.finish().unwrap();
    } else {
        std::fs::write(&p, bytes).unwrap();
    }
    p
}

fn encode(values: &[f64], code: i16, big: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for &v in values {
        macro_rules! put {
            ($t:ty) => {{
                let x = v as $t;
                out.extend_from_slice(&if big {
                    x.to_be_bytes()
                } else {
                    x.to_le_bytes()
                });
            }};
        }
        match code {
            2 => put!(u8),
            256 => put!(i8),
            4 => put!(i16),
            512 => put!(u16),
            8 => put!(i32),
            768 => put!(u32),
            1024 => put!(i64),
            1280 => put!(u64),
            16 => put!(f32),
            64 => put!(f64),
            _ => unreachable!(),
        }
    }
    out
}

#[test]
fn every_type_both_byte_orders_plain_and_gzip() {
    let values: Vec<f64> = (0..24).map(|v| (v * 5) as f64).collect();
    for (code, bpv) in [
        (2, 1),
        (256, 1),
        (4, 2),
        (512, 2),
        (8, 4),
        (768, 4),
        (1024, 8),
        (1280, 8),
        (16, 4),
        (64, 8),
    ] {
        for big in [false, true] {
            for ext in ["nii", "nii.gz"] {
                let spec = Spec {
                    big,
                    ..Spec::new(code, bpv)
                };
                let vals: Vec<f64> = values
                    .iter()
                    .map(|v| if code == 256 { v - 60.0 } else { *v })
                    .collect();
                let p = write(
                    &format!("t{code}_{big}.{ext}"),
                    &spec.bytes(&encode(&vals, code, big)),
                );
                let v =
                    read_volume(&p).unwrap_or_else(|e| panic!("type {code} big={big} {ext}: {e}"));
                assert_eq!(v.dims, [4, 3, 2]);
                assert_eq!(
                    v.data,
                    vals.iter().map(|&x| x as f32).collect::<Vec<_>>(),
                    "type {code} big={big} {ext}"
                );
                assert_eq!(v.spacing, [1.5, 1.5, 3.0]);
            }
        }
    }
}

#[test]
fn scaling_sform_and_qform() {
    // int16 with slope 2 and intercept −1024 (CT stores HU this way).
    let spec = Spec {
        slope: 2.0,
        inter: -1024.0,
        sform: Some([[-1.5, 0., 0., 90.], [0., 1.5, 0., -120.], [0., 0., 3., 10.]]),
        ..Spec::new(4, 2)
    };
    let raw: Vec<f64> = (0..24).map(|v| v as f64 * 10.0).collect();
    let p = write("scaled.nii.gz", &spec.bytes(&encode(&raw, 4, false)));
    let v = read_volume(&p).unwrap();
    assert_eq!(v.data[3], 30.0 * 2.0 - 1024.0);
    assert_eq!(v.affine[0], [-1.5, 0., 0., 90.]);
    assert_eq!(v.affine[2], [0., 0., 3., 10.]);
    // qform only: 90° about z (b = c = 0, d = sin 45°), qfac −1 flips z.
    let s = std::f32::consts::FRAC_1_SQRT_2;
    let spec = Spec {
        qform: Some(([0., 0., s], [1., 2., 3.], -1.0)),
        ..Spec::new(2, 1)
    };
    let p = write("qform.nii", &spec.bytes(&[0u8; 24]));
    let a = read_volume(&p).unwrap().affine;
    let want = [
        [0.0, -1.5, 0.0, 1.0],
        [1.5, 0.0, 0.0, 2.0],
        [0.0, 0.0, -3.0, 3.0],
    ];
    for r in 0..3 {
        for c in 0..4 {
            assert!(
                (a[r][c] - want[r][c]).abs() < 1e-6,
                "affine[{r}][{c}] = {} want {}",
                a[r][c],
                want[r][c]
            );
        }
    }
}

#[test]
fn labels_round_trip_on_the_source_grid() {
    let spec = Spec {
        sform: Some([[1.5, 0., 0., -10.], [0., 1.5, 0., 20.], [0., 0., 3., 30.]]),
        ..Spec::new(16, 4)
    };
    let p = write("image.nii.gz", &spec.bytes(&encode(&[0.5; 24], 16, false)));
    let img = read_volume(&p).unwrap();
    let labels: Vec<u8> = (0..24).map(|v| (v % 3) as u8).collect();
    for name in ["labels.nii", "labels.nii.gz"] {
        let out = dir().join(name);
        write_labels(&out, &labels, &img).unwrap();
        let back = read_volume(&out).unwrap();
        assert_eq!(back.dims, img.dims);
        assert_eq!(back.affine, img.affine);
        assert_eq!(back.geometry, img.geometry);
        assert_eq!(
            back.data,
            labels.iter().map(|&l| l as f32).collect::<Vec<_>>()
        );
    }
    assert!(write_labels(&dir().join("bad.nii"), &labels[..5], &img).is_err());
}

fn expect_err(name: &str, bytes: &[u8], needle: &str) {
    let p = write(name, bytes);
    match read_volume_with(
        &p,
        ReadLimits {
            max_voxels: 1 << 24,
        },
    ) {
        Ok(v) => panic!("{name}: read {:?} instead of failing", v.dims),
        Err(e) => {
            let m = e.to_string();
            assert!(
                m.contains(name),
                "{name}: error does not name the file: {m}"
            );
            assert!(m.contains(needle), "{name}: error '{m}' lacks '{needle}'");
        }
    }
}

#[test]
fn hostile_files_are_clear_errors() {
    let good = Spec::new(16, 4).bytes(&encode(&[1.0; 24], 16, false));
    expect_err("empty.nii", &[], "348-byte header");
    expect_err("short.nii", &good[..200], "348-byte header");
    expect_err("truncated.nii", &good[..352 + 40], "truncated");
    expect_err("garbage.nii", &[0x5a; 600], "not a NIfTI-1 file");
    expect_err(
        "text.nii",
        "hello, this is not a volume\n".repeat(30).as_bytes(),
        "not a NIfTI-1 file",
    );
    expect_err(
        "nifti2.nii",
        &Spec {
            sizeof_hdr: 540,
            ..Spec::new(16, 4)
        }
        .bytes(&[0; 96]),
        "NIfTI-2",
    );
    expect_err(
        "huge.nii",
        &Spec {
            dims: vec![3, 32767, 32767, 32767],
            ..Spec::new(16, 4)
        }
        .bytes(&[0; 96]),
        "exceed the limit",
    );
    expect_err(
        "fourd.nii",
        &Spec {
            dims: vec![4, 4, 3, 2, 5],
            ..Spec::new(16, 4)
        }
        .bytes(&[0; 480]),
        "3-D",
    );
    expect_err(
        "zero.nii",
        &Spec {
            dims: vec![3, 4, 0, 2],
            ..Spec::new(16, 4)
        }
        .bytes(&[]),
        "at least 1",
    );
    expect_err(
        "negative.nii",
        &Spec {
            dims: vec![3, 4, -3, 2],
            ..Spec::new(16, 4)
        }
        .bytes(&[]),
        "at least 1",
    );
    expect_err(
        "complex.nii",
        &Spec::new(32, 8).bytes(&[0; 192]),
        "unsupported data type",
    );
    let mut nan = encode(&[1.0; 24], 16, false);
    nan[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    expect_err("nan.nii", &Spec::new(16, 4).bytes(&nan), "NaN");
    // A gzip stream cut in half: an error, not a panic or a partial volume.
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&Spec::new(16, 4).bytes(&encode(
            &(0..24).map(|v| v as f64).collect::<Vec<_>>(),
            16,
            false,
        )))
        .unwrap();
        e.finish().unwrap()
    };
    let p = dir().join("cut.nii.gz");
    std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
    assert!(read_volume(&p)
        .unwrap_err()
        .to_string()
        .contains("cut.nii.gz"));
    let missing = dir().join("missing.nii");
    assert!(read_volume(&missing)
        .unwrap_err()
        .to_string()
        .contains("missing.nii"));
}

/// Every header byte set to 0x00, 0xFF, 0x7F, 0x80 and its low bit flipped, and every
/// truncation length: the reader returns (a volume or an error) and never panics.
#[test]
fn mutated_headers_and_truncations_never_panic() {
    let base = Spec::new(16, 4).bytes(&encode(
        &(0..24).map(|v| v as f64).collect::<Vec<_>>(),
        16,
        false,
    ));
    let p = dir().join("mutant.nii");
    let limits = ReadLimits {
        max_voxels: 1 << 20,
    };
    let mut panics = Vec::new();
    let mut check = |bytes: &[u8], what: String| {
        std::fs::write(&p, bytes).unwrap();
        if std::panic::catch_unwind(|| {
            let _ = read_volume_with(&p, limits);
        })
        .is_err()
        {
            panics.push(what);
        }
    };
    for off in 0..352 {
        for v in [0x00, 0xFF, 0x7F, 0x80, base[off] ^ 0x01] {
            let mut m = base.clone();
            m[off] = v;
            check(&m, format!("byte {off} = {v:#04x}"));
        }
    }
    for len in 0..base.len() {
        check(&base[..len], format!("truncated to {len} bytes"));
    }
    assert!(panics.is_empty(), "the reader panicked on: {panics:?}");
}

/// The fuzzing corpus (fuzz/corpus/nifti_header: the seeds, and any input the fuzzer found
/// interesting or crashing that was committed there) read back without a panic; the seeds
/// themselves are valid volumes.
#[test]
fn fuzz_corpus_replays() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/nifti_header");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        let gz = bytes.starts_with(&[0x1f, 0x8b]);
        let copy = self::dir().join(format!("corpus-{n}.{}", if gz { "nii.gz" } else { "nii" }));
        std::fs::write(&copy, &bytes).unwrap();
        let r = std::panic::catch_unwind(|| {
            read_volume_with(
                &copy,
                ReadLimits {
                    max_voxels: 1 << 22,
                },
            )
            .map(|v| v.dims)
        });
        assert!(r.is_ok(), "{} made the reader panic", p.display());
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if [
            "u8_le.nii",
            "u8_le.nii.gz",
            "i16_be_scaled_sform.nii",
            "f32_qform.nii",
            "nibabel_standard.nii.gz",
        ]
        .contains(&name.as_str())
        {
            assert!(r.unwrap().is_ok(), "seed {name} should read");
        }
        n += 1;
    }
    assert!(n >= 6, "the seed corpus is missing ({n} files)");
}
