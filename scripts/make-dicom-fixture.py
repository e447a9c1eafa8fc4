"""Writes tests/fixtures/dicom/MR_small_jpeg_lossless.dcm: pydicom's MR_small.dcm (fetched by
scripts/fetch-sample-data.sh into .sample-data/pydicom/) with its pixels re-encoded as JPEG
lossless, process 14 (transfer syntax 1.2.840.10008.1.2.4.57; the encoder's predictor is 6), so
the reader's JPEG-lossless decoding is tested on a file no Rust code wrote. The pixels decode to
MR_small.dcm's exactly (checked here before writing).

  python3 -m pip install pydicom==3.0.2 imagecodecs==2026.3.6
  python3 scripts/make-dicom-fixture.py
"""
import numpy as np
import imagecodecs
import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import UID

src = pydicom.dcmread(".sample-data/pydicom/MR_small.dcm")
pixels = src.pixel_array
assert pixels.min() >= 0, "the lossless encoder takes unsigned samples"
frame = imagecodecs.ljpeg_encode(pixels.astype(np.uint16))
assert (imagecodecs.ljpeg_decode(frame) == pixels).all()
src.PixelData = encapsulate([frame])
src["PixelData"].VR = "OB"
src["PixelData"].is_undefined_length = True
src.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.57")
src.save_as("tests/fixtures/dicom/MR_small_jpeg_lossless.dcm", enforce_file_format=True)
print("wrote tests/fixtures/dicom/MR_small_jpeg_lossless.dcm")
