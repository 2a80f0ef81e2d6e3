#!/usr/bin/python3
"""Compare our NIfTI of a single-image DICOM file with pydicom's reading of it.

usage: compare_pydicom.py DICOM NIFTI
The NIfTI's (scaled) voxels [i, j, 0] must equal pydicom's pixel_array[j, i] with
RescaleSlope/Intercept applied, and its affine must put voxel (i, j) at
ImagePositionPatient + i*col_spacing*row_dir + j*row_spacing*col_dir (in RAS)."""
import sys
import numpy as np
import nibabel as nib
import pydicom

ds = pydicom.dcmread(sys.argv[1])
im = nib.load(sys.argv[2])
px = ds.pixel_array.astype(np.float64) * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0))
data = np.asarray(im.get_fdata())[:, :, 0]
if data.shape != px.T.shape or not np.allclose(data, px.T):
    sys.exit("voxels differ from pydicom's pixel_array (shape %s vs %s)" % (data.shape, px.T.shape))
o = np.array([float(v) for v in ds.ImageOrientationPatient])
p = np.array([float(v) for v in ds.ImagePositionPatient])
rs, cs = [float(v) for v in ds.PixelSpacing]
for i, j in [(0, 0), (3, 5), (data.shape[0] - 1, data.shape[1] - 1)]:
    lps = p + i * cs * o[:3] + j * rs * o[3:]
    ras = im.affine @ [i, j, 0, 1]
    if np.abs(ras[:3] - lps * [-1, -1, 1]).max() > 1e-3:
        sys.exit("voxel (%d,%d) at %s, DICOM says %s (LPS)" % (i, j, ras[:3], lps))
print("same")
