//! Image-level slice labels from a CSV (`train --labels-csv FILE`): the classifier's labels
//! without tumour label maps. One row per labelled slice, with a header naming the columns:
//!
//! ```text
//! case,slice,label                 # slice: 0-based index along the axial axis (as segment --csv)
//! patient_001,41,abnormal
//! patient_001,12,normal
//! patient_002,,normal              # empty slice: every organ slice of the case (tumour-free)
//! ```
//!
//! `label` is `normal`/`abnormal` or 0/1; for DICOM series a `sop_instance_uid` column may name
//! the slice instead of `slice`. The case is the image's file stem (`patient_001.nii.gz`), the
//! series folder's name, or the KiTS / nnU-Net case id. Every problem names the file and the
//! row (1-based, the header being row 1).

use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which slice a row labels.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SliceKey {
    /// Every organ slice of the case.
    Every,
    /// The 0-based index along the axial axis.
    Index(usize),
    /// A DICOM slice's SOP Instance UID.
    Uid(String),
}

/// One row's label and where it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Labelled {
    pub label: u8,
    /// 1-based row of the file (the header is row 1).
    pub row: usize,
}

/// The labels of a CSV, by case and slice.
#[derive(Clone, Debug, Default)]
pub struct SliceLabels {
    pub path: PathBuf,
    pub cases: BTreeMap<String, BTreeMap<SliceKey, Labelled>>,
}

fn at(path: &Path, row: usize, what: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{} row {row}: {what}", path.display()))
}

fn parse_label(v: &str) -> Option<u8> {
    match v.trim().to_ascii_lowercase().as_str() {
        "normal" | "0" => Some(0),
        "abnormal" | "1" => Some(1),
        _ => None,
    }
}

impl SliceLabels {
    /// Reads and checks `path`: the columns, each row's label and slice, duplicates, and a
    /// case labelled both whole (empty slice) and slice by slice.
    pub fn read(path: &Path) -> Result<SliceLabels> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("--labels-csv {}: {e}", path.display()),
            ))
        })?;
        Self::parse(&text, path)
    }

    /// [`read`](Self::read) from the file's text.
    pub fn parse(text: &str, path: &Path) -> Result<SliceLabels> {
        let mut r = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .flexible(true)
            .from_reader(text.as_bytes());
        let header: Vec<String> = r
            .headers()
            .map_err(|e| at(path, 1, e))?
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let col = |n: &str| header.iter().position(|h| h == n);
        let (case, label) = match (col("case"), col("label")) {
            (Some(c), Some(l)) => (c, l),
            _ => {
                return Err(at(
                    path,
                    1,
                    format!("the header must name the columns case, slice (or sop_instance_uid) and label; got {header:?}"),
                ))
            }
        };
        let (slice, uid) = (col("slice"), col("sop_instance_uid"));
        if slice.is_none() && uid.is_none() {
            return Err(at(path, 1, "no slice or sop_instance_uid column"));
        }
        let mut out = SliceLabels {
            path: path.to_path_buf(),
            ..Default::default()
        };
        for record in r.records() {
            let record = record.map_err(|e| at(path, 0, e))?;
            let row = record.position().map_or(0, |p| p.line() as usize);
            let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("");
            let name = field(Some(case));
            if name.is_empty() {
                return Err(at(path, row, "no case"));
            }
            let value = field(Some(label));
            let label = parse_label(value).ok_or_else(|| {
                at(
                    path,
                    row,
                    format!("unknown label '{value}' (normal, abnormal, 0 or 1)"),
                )
            })?;
            let key = match (field(slice), field(uid)) {
                ("", "") => SliceKey::Every,
                (s, "") => SliceKey::Index(s.parse().map_err(|_| {
                    at(
                        path,
                        row,
                        format!("slice '{s}' is not a 0-based slice index"),
                    )
                })?),
                ("", u) => SliceKey::Uid(u.to_string()),
                _ => return Err(at(path, row, "both a slice and a sop_instance_uid")),
            };
            out.add(name, key, Labelled { label, row })?;
        }
        if out.cases.is_empty() {
            return Err(Error::Invalid(format!(
                "{}: no labelled slice",
                path.display()
            )));
        }
        Ok(out)
    }

    fn add(&mut self, case: &str, key: SliceKey, l: Labelled) -> Result<()> {
        let rows = self.cases.entry(case.to_string()).or_default();
        if let Some(first) = rows.get(&key) {
            return Err(at(
                &self.path,
                l.row,
                format!(
                    "case {case} {key:?} is already labelled in row {}",
                    first.row
                ),
            ));
        }
        let every = rows.get(&SliceKey::Every);
        let other = rows.iter().find(|(k, _)| **k != SliceKey::Every);
        match (&key, every, other) {
            (SliceKey::Every, _, Some((_, o))) | (_, Some(o), _) => {
                return Err(at(
                    &self.path,
                    l.row,
                    format!(
                    "case {case} is labelled whole (an empty slice) and slice by slice (row {})",
                    o.row
                ),
                ))
            }
            _ => {}
        }
        rows.insert(key, l);
        Ok(())
    }

    /// The first row of a case that none of `names` matches, as an error naming it.
    pub fn check_cases<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<()> {
        let known: std::collections::BTreeSet<&str> = names.into_iter().collect();
        let unknown = self
            .cases
            .iter()
            .filter(|(c, _)| !known.contains(c.as_str()))
            .filter_map(|(c, rows)| rows.values().map(|l| l.row).min().map(|r| (r, c)))
            .min();
        match unknown {
            Some((row, case)) => Err(at(
                &self.path,
                row,
                format!(
                    "no case {case} in the data (cases are image file stems or series folder names, e.g. {})",
                    known.iter().take(3).copied().collect::<Vec<_>>().join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    /// An error naming the row that labels `case`'s slice `key`.
    pub fn row_error(&self, case: &str, key: &SliceKey, what: impl std::fmt::Display) -> Error {
        let row = self
            .cases
            .get(case)
            .and_then(|r| r.get(key))
            .map_or(0, |l| l.row);
        at(&self.path, row, what)
    }
}

/// The name a CSV gives a case: its id's last component without `.nii.gz` / `.nii` (a NIfTI
/// file's stem, a series folder's name, a KiTS or nnU-Net case id).
pub fn case_name(id: &str) -> &str {
    let last = id.rsplit(['/', '\\']).next().unwrap_or(id);
    last.strip_suffix(".nii.gz")
        .or_else(|| last.strip_suffix(".nii"))
        .unwrap_or(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SliceLabels> {
        SliceLabels::parse(text, Path::new("labels.csv"))
    }

    #[test]
    fn rows_parse_into_cases_and_slices() {
        let l =
            parse("case,slice,label\n# a comment\np1,41,abnormal\np1, 12 ,Normal\np2,,0\np3,,1\n")
                .unwrap();
        assert_eq!(l.cases["p1"][&SliceKey::Index(41)].label, 1);
        assert_eq!(l.cases["p1"][&SliceKey::Index(12)].label, 0);
        assert_eq!(
            l.cases["p2"][&SliceKey::Every],
            Labelled { label: 0, row: 5 }
        );
        let u = parse("case,sop_instance_uid,label\ns1,1.2.3,1\n").unwrap();
        assert_eq!(u.cases["s1"][&SliceKey::Uid("1.2.3".into())].label, 1);
        assert_eq!(case_name("train/patient_001.nii.gz"), "patient_001");
        assert_eq!(case_name("test/series_7"), "series_7");
        assert_eq!(case_name("case_00001"), "case_00001");
    }

    #[test]
    fn bad_rows_name_the_file_and_row() {
        for (text, row, says) in [
            ("case,slice,label\np1,3,maybe\n", 2, "unknown label 'maybe'"),
            (
                "case,slice,label\np1,3,1\np1,3,0\n",
                3,
                "already labelled in row 2",
            ),
            ("case,slice,label\np1,,0\np1,3,1\n", 3, "labelled whole"),
            ("case,slice,label\np1,3,1\np1,,0\n", 3, "labelled whole"),
            (
                "case,slice,label\np1,-2,1\n",
                2,
                "not a 0-based slice index",
            ),
            ("case,label\np1,1\n", 1, "no slice or sop_instance_uid"),
            ("patient,slice,label\np1,1,1\n", 1, "the header must name"),
            ("case,slice,label\n,1,1\n", 2, "no case"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(
                e.contains(&format!("labels.csv row {row}: ")) && e.contains(says),
                "{text:?}: {e}"
            );
        }
        let l = parse("case,slice,label\np1,1,1\nghost,2,0\n").unwrap();
        let e = l.check_cases(["p1", "p2"]).unwrap_err().to_string();
        assert!(e.contains("row 3") && e.contains("no case ghost"), "{e}");
    }
}
