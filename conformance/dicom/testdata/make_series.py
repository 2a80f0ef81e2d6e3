#!/usr/bin/python3
"""Write synthetic DICOM series with pydicom (the conformance oracle's own writer).

usage: make_series.py OUTDIR CASE [blob]
       make_series.py OUTDIR ct SLICES SIZE   (one axial CT series, SIZExSIZE noise)
Cases: oblique, colflip, aniso, intercept, shuffled, mixed, duplicate, uneven,
reversed (InstanceNumber and file order against the slice normal), brats (two
case folders of MR series).
With "blob", the voxels are air (-1000 HU) except an asymmetric block of tissue
(40 HU), so that a mask of it shows any flip or shift.
Every file carries planted patient data; file names are random and extension-less
for "shuffled" and "mixed"."""
import os, random, sys
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

out, case = sys.argv[1], sys.argv[2]
blob = len(sys.argv) > 3 and sys.argv[3] == "blob"
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)


def rot(ax, ay, az):
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def series(study, desc, number, row, col, ps=(0.9, 0.7), gap=2.0, n=9, rows=16, cols=20,
           intercept=0.0, slope=1.0, signed=True, positions=None, origin=(-30.0, 12.5, 80.0)):
    row, col = np.array(row, float), np.array(col, float)
    normal = np.cross(row, col)
    uid = generate_uid()
    frame_uid = generate_uid()
    vol = rng.integers(0, 2000, size=(n, rows, cols)).astype(np.int16 if signed else np.uint16)
    if blob:
        k, j, i = np.meshgrid(np.arange(n), np.arange(rows), np.arange(cols), indexing="ij")
        tissue = (k >= 1) & (k <= n - 3) & (j >= 1) & (j <= rows // 2) & (i >= 2) & (i <= cols - 4) & (2 * j + k > i // 2)
        hu = np.where(tissue, 40.0, -1000.0)
        vol = np.round((hu - intercept) / slope).astype(np.int16 if signed else np.uint16)
    if positions is None:
        positions = [k * gap for k in range(n)]
    ims = []
    for k, z in enumerate(positions):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.SeriesDescription = desc
        ds.PatientName = "SECRET^PLANTED^NAME"
        ds.PatientID = "PID-PLANTED-90210"
        ds.PatientBirthDate = "19010203"
        ds.StudyInstanceUID = study
        ds.FrameOfReferenceUID = frame_uid
        ds.SeriesInstanceUID = uid
        ds.SeriesNumber = number
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [round(float(v), 4) for v in np.array(origin) + z * normal]
        ds.ImageOrientationPatient = [round(float(v), 6) for v in list(row) + list(col)]
        ds.PixelSpacing = list(ps)
        ds.SliceThickness = gap
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = rows, cols
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 1 if signed else 0
        ds.RescaleIntercept, ds.RescaleSlope = intercept, slope
        ds.PixelData = vol[min(k, n - 1)].tobytes()
        ims.append(ds)
    return ims


def write(ims, names=None, sub=""):
    d = os.path.join(out, sub)
    os.makedirs(d, exist_ok=True)
    for i, ds in enumerate(ims):
        name = names[i] if names else "IM%04d.dcm" % i
        ds.save_as(os.path.join(d, name), write_like_original=False)


study = generate_uid()
ax = ([1, 0, 0], [0, 1, 0])
if case == "oblique":
    r = rot(0.35, -0.2, 0.5)
    write(series(study, "Oblique", 1, r[:, 0], r[:, 1]))
elif case == "colflip":
    write(series(study, "Colflip", 1, [1, 0, 0], [0, -1, 0]))
elif case == "aniso":
    write(series(study, "Aniso", 1, *ax, ps=(0.5, 0.8), gap=3.0))
elif case == "intercept":
    write(series(study, "Intercept", 1, *ax, intercept=-1024.0, signed=False))
elif case == "shuffled":
    ims = series(study, "Shuffled", 1, [0, 1, 0], [0, 0, -1])
    random.Random(3).shuffle(ims)
    write(ims, ["%08x" % random.Random(i).getrandbits(32) for i in range(len(ims))])
elif case == "mixed":
    a = series(study, "Mixed A", 1, *ax, n=7)
    b = series(study, "Mixed B", 2, [1, 0, 0], [0, 0, -1], n=5, gap=4.0)
    ims = a + b
    random.Random(5).shuffle(ims)
    write(ims, ["f%03d" % i for i in range(len(ims))])
elif case == "reversed":
    ims = series(study, "Reversed", 1, *ax, positions=[(8 - k) * 2.5 for k in range(9)])
    write(ims[::-1])
elif case == "duplicate":
    write(series(study, "Duplicate", 1, *ax, positions=[0, 2, 4, 4, 6, 8]))
elif case == "uneven":
    write(series(study, "Uneven", 1, *ax, positions=[0, 2, 4, 6, 9, 11]))
elif case == "brats":
    # two cases of MR series in one folder each (series folders named by
    # number, as PACS exports do); each description is a BraTS-like name, each
    # series has its own slice count so a test can tell which one an input got
    c1 = generate_uid()
    for i, (desc, n) in enumerate([("AX T1", 9), ("AX T1 POST GD", 8), ("T2 TSE", 7), ("FLAIR", 6)]):
        write(series(c1, desc, i + 1, *ax, n=n), sub="c1/%03d" % (i + 1))
    write(series(c1, "Localizer", 9, [1, 0, 0], [0, 0, -1], n=3), sub="c1/009")
    c2 = generate_uid()
    for i, (desc, n) in enumerate([("T1", 9), ("T2", 7), ("FLAIR", 6)]):
        write(series(c2, desc, i + 1, *ax, n=n), sub="c2/%03d" % (i + 1))
elif case == "ct":
    n, size = int(sys.argv[3]), int(sys.argv[4])
    write(series(study, "CT %d" % n, 1, *ax, n=n, rows=size, cols=size, gap=1.25, ps=(0.7, 0.7)))
else:
    sys.exit("unknown case " + case)
