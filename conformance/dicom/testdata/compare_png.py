#!/usr/bin/python3
"""usage: compare_png.py DICOM PNG — the PNG (made with --window 128,256, the
identity for 8-bit data) must hold pydicom's pixel_array exactly."""
import sys
import numpy as np
import pydicom
from PIL import Image

px = pydicom.dcmread(sys.argv[1]).pixel_array
png = np.asarray(Image.open(sys.argv[2]))
if png.shape != px.shape or not np.array_equal(png, px):
    sys.exit("PNG differs from pydicom's pixel_array (shape %s vs %s)" % (png.shape, px.shape))
print("same")
