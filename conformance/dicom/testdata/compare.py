#!/usr/bin/python3
"""Compare two NIfTI files in world space with nibabel.

usage: compare.py OURS REFERENCE
Both are brought to the closest canonical (RAS) orientation; they must have the
same shape, the same (scaled) voxel values and affines within 1e-3 mm. Prints one
line saying what differs, exit 1, or "same" and exit 0."""
import sys
import nibabel as nib
import numpy as np

a = nib.as_closest_canonical(nib.load(sys.argv[1]))
b = nib.as_closest_canonical(nib.load(sys.argv[2]))
da, db = np.squeeze(a.get_fdata()), np.squeeze(b.get_fdata())
if da.shape != db.shape:
    sys.exit("shape %s vs %s" % (da.shape, db.shape))
if not np.allclose(da, db, atol=1e-4):
    sys.exit("voxels differ: %d of %d, max %g" % ((np.abs(da - db) > 1e-4).sum(), da.size, np.abs(da - db).max()))
d = np.abs(a.affine - b.affine).max()
if d > 1e-3:
    sys.exit("affines differ by %g mm:\n%s\n%s" % (d, a.affine, b.affine))
if np.abs(nib.load(sys.argv[1]).get_qform() - nib.load(sys.argv[1]).get_sform()).max() > 1e-3:
    sys.exit("our qform and sform differ")
print("same")
