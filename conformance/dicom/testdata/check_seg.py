#!/usr/bin/python3
"""Check a DICOM SEG (and a NIfTI mask) against its source series, with pydicom
and nibabel: the expected mask is the source's voxels above -500 HU (what the
conformance mask model and the Go test compute).

usage: check_seg.py SERIES_DIR SEG [MASK_NIFTI REF_NIFTI]

The SEG must be a BINARY Segmentation of the source's study, patient and frame
of reference, reference the source series and each of its images; every frame
must sit exactly at its source image's position and orientation (the same
numbers), hold exactly the
expected mask of that image, and no frame may be empty; every image with tissue
must have its frame. With REF_NIFTI (the series converted by dcm2niix), every
SEG pixel set must land, in world space, on a voxel of REF_NIFTI above -500,
and MASK_NIFTI must equal REF_NIFTI > -500 voxel for voxel in world space.
Prints "ok: ..." and exits 0, or says what differs and exits 1."""
import glob, os, sys
import numpy as np
import pydicom

series_dir, seg_path = sys.argv[1], sys.argv[2]
src = {}
for p in glob.glob(os.path.join(series_dir, "**", "*"), recursive=True):
    if os.path.isfile(p):
        ds = pydicom.dcmread(p)
        src[ds.SOPInstanceUID] = ds


def expected(ds):
    hu = ds.pixel_array.astype(np.float64) * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0))
    return (hu > -500).astype(np.uint8)


def fail(msg):
    sys.exit("%s: %s" % (os.path.basename(seg_path), msg))


seg = pydicom.dcmread(seg_path)
first = next(iter(src.values()))
if seg.SOPClassUID != "1.2.840.10008.5.1.4.1.1.66.4" or seg.Modality != "SEG" or seg.SegmentationType != "BINARY":
    fail("not a BINARY Segmentation: %s %s" % (seg.SOPClassUID, seg.Modality))
for kw in ["StudyInstanceUID", "FrameOfReferenceUID", "PatientName", "PatientID", "PatientBirthDate"]:
    if str(getattr(seg, kw, "")) != str(getattr(first, kw, "")):
        fail("%s %r, source %r" % (kw, getattr(seg, kw, None), getattr(first, kw, None)))
refs = seg.ReferencedSeriesSequence
if len(refs) != 1 or refs[0].SeriesInstanceUID != first.SeriesInstanceUID:
    fail("references series %s, source %s" % ([r.SeriesInstanceUID for r in refs], first.SeriesInstanceUID))
if sorted(r.ReferencedSOPInstanceUID for r in refs[0].ReferencedInstanceSequence) != sorted(src):
    fail("the referenced instances are not the source's images")
frames = seg.pixel_array
if frames.ndim == 2:
    frames = frames[np.newaxis]
if frames.shape[0] != int(seg.NumberOfFrames):
    fail("%d frames decoded, NumberOfFrames %s" % (frames.shape[0], seg.NumberOfFrames))
shared = seg.SharedFunctionalGroupsSequence[0]
rs, cs = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]
seen = set()
world = []
for f, pf in enumerate(seg.PerFrameFunctionalGroupsSequence):
    uid = pf.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
    if uid not in src:
        fail("frame %d references %s, not a source image" % (f, uid))
    s = src[uid]
    pos = np.array([float(v) for v in pf.PlanePositionSequence[0].ImagePositionPatient])
    ori = np.array([float(v) for v in pf.PlaneOrientationSequence[0].ImageOrientationPatient])
    if not np.array_equal(pos, np.array([float(v) for v in s.ImagePositionPatient])):
        fail("frame %d at %s, its source image at %s" % (f, pos, list(s.ImagePositionPatient)))
    if not np.array_equal(ori, np.array([float(v) for v in s.ImageOrientationPatient])):
        fail("frame %d orientation %s, source %s" % (f, ori, list(s.ImageOrientationPatient)))
    if [float(v) for v in s.PixelSpacing] != [rs, cs]:
        fail("pixel spacing %s, source %s" % ([rs, cs], list(s.PixelSpacing)))
    want = expected(s)
    if not np.array_equal(frames[f], want):
        fail("frame %d (source %s): %d pixels differ from the mask" % (f, uid, (frames[f] != want).sum()))
    if not frames[f].any():
        fail("frame %d is empty (empty frames must be omitted)" % f)
    if uid in seen:
        fail("two frames for source %s" % uid)
    seen.add(uid)
    r, c = np.nonzero(frames[f])
    world.append(pos[None, :] + (c * cs)[:, None] * ori[None, :3] + (r * rs)[:, None] * ori[None, 3:])
for uid, s in src.items():
    if expected(s).any() and uid not in seen:
        fail("source image %s has tissue but no frame" % uid)
msg = "%d frames, each at its source image with its exact mask" % frames.shape[0]

if len(sys.argv) > 4:
    import nibabel as nib
    ref = nib.load(sys.argv[4])
    rdata = np.asarray(ref.get_fdata())
    while rdata.ndim > 3:
        rdata = rdata[..., 0]
    inv = np.linalg.inv(ref.affine)
    lps = np.concatenate(world)
    ras = np.c_[-lps[:, 0], -lps[:, 1], lps[:, 2], np.ones(len(lps))]
    ijk = (inv @ ras.T).T[:, :3]
    if np.abs(ijk - np.round(ijk)).max() > 1e-3:
        fail("SEG pixels fall between the reference NIfTI's voxels (off by %g)" % np.abs(ijk - np.round(ijk)).max())
    ijk = np.round(ijk).astype(int)
    if (ijk < 0).any() or (ijk >= np.array(rdata.shape)).any():
        fail("SEG pixels outside the reference volume")
    vals = rdata[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
    if (vals <= -500).any():
        fail("%d SEG pixels land on air in the reference NIfTI (world space)" % (vals <= -500).sum())
    if len(vals) != (rdata > -500).sum():
        fail("SEG covers %d voxels, the reference has %d above -500" % (len(vals), (rdata > -500).sum()))
    m = nib.load(sys.argv[3])
    mdata = np.asarray(m.get_fdata())
    grid = np.indices(mdata.shape).reshape(3, -1).T
    w = (m.affine @ np.c_[grid, np.ones(len(grid))].T)
    rijk = (inv @ w).T[:, :3]
    if np.abs(rijk - np.round(rijk)).max() > 1e-3:
        fail("the NIfTI mask's voxels fall between the reference's (off by %g)" % np.abs(rijk - np.round(rijk)).max())
    rijk = np.round(rijk).astype(int)
    if (rijk < 0).any() or (rijk >= np.array(rdata.shape)).any():
        fail("the NIfTI mask reaches outside the reference volume")
    want = (rdata[rijk[:, 0], rijk[:, 1], rijk[:, 2]] > -500).astype(np.uint8)
    got = mdata.reshape(-1)[np.ravel_multi_index(grid.T, mdata.shape)].astype(np.uint8)
    if not np.array_equal(got, want):
        fail("the NIfTI mask differs from the reference > -500 at %d voxels (world space)" % (got != want).sum())
    msg += "; SEG and NIfTI mask on the reference's tissue voxels in world space"
print("ok: " + msg)
