#!/usr/bin/env bash
# Fetches the real CT files the tests use (../shared/docs/sample-data.md) into .sample-data/
# (git-ignored): TotalSegmentator's test CTs and label maps, its 20-slice DICOM series (JPEG 2000
# lossless) with the mask TotalSegmentator wrote for it through dcm2niix, pydicom's small MR slice
# in six transfer syntaxes, and nibabel's NIfTI edge cases.
# Downloads are checked against pinned sha256 sums. About 40 MB, ~15 s.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.sample-data
mkdir -p "$dest/dl"
fetch() { # name version kind sha256
  local name=$1 version=$2 kind=$3 sum=$4 file
  file=$(ls "$dest/dl/${name}-${version}"* 2>/dev/null | head -n1 || true)
  if [ -z "$file" ] || ! echo "$sum  $file" | sha256sum -c --status; then
    rm -f "$dest/dl/${name}-${version}"*
    if [ "$kind" = sdist ]; then
      python3 -m pip download -q --no-deps --no-binary "$name" -d "$dest/dl" "$name==$version"
    else
      python3 -m pip download -q --no-deps --only-binary :all: -d "$dest/dl" "$name==$version"
    fi
    file=$(ls "$dest/dl/${name}-${version}"* | head -n1)
    echo "$sum  $file" | sha256sum -c --status || { echo "checksum mismatch for $file" >&2; exit 1; }
  fi
  echo "$file"
}
ts=$(fetch totalsegmentator 2.18.0 sdist 5d4223ef93973bc36d710869d11e7742ead2c154c72f7f9edcaaadd5b6c4bd03)
nb=$(fetch nibabel 5.4.2 wheel 553482c5f1e1034fc312edf6fb7f32236c0056439845d1c29293b7e8c98d4854)
pd=$(fetch pydicom 3.0.2 wheel abf971a5440f84dbaf42c4b6758e30e62480902584f8b270b9a5d146e278a07b)
mkdir -p "$dest/totalsegmentator" "$dest/nibabel" "$dest/pydicom"
tar xzf "$ts" -C "$dest/totalsegmentator" --strip-components=3 \
  totalsegmentator-2.18.0/tests/reference_files/example_ct.nii.gz \
  totalsegmentator-2.18.0/tests/reference_files/example_ct_sm.nii.gz \
  totalsegmentator-2.18.0/tests/reference_files/example_seg.nii.gz \
  totalsegmentator-2.18.0/tests/reference_files/example_seg_dicom.nii.gz \
  totalsegmentator-2.18.0/tests/reference_files/example_ct_dicom
python3 - "$nb" "$dest/nibabel" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
names = ["anatomical.nii", "example4d.nii.gz", "example_nifti2.nii.gz", "functional.nii", "standard.nii.gz"]
with zipfile.ZipFile(wheel) as z:
    for n in names:
        with open(f"{out}/{n}", "wb") as f:
            f.write(z.read(f"nibabel/tests/data/{n}"))
PY
# One 64×64 MR slice in five transfer syntaxes (explicit and implicit VR little endian, explicit
# big endian, RLE, JPEG 2000 lossless) and in JPEG-LS lossless, which is not decoded here.
python3 - "$pd" "$dest/pydicom" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
names = ["MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm",
         "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"]
with zipfile.ZipFile(wheel) as z:
    for n in names:
        with open(f"{out}/{n}", "wb") as f:
            f.write(z.read(f"pydicom/data/test_files/{n}"))
PY
echo "sample data ready in $dest"
