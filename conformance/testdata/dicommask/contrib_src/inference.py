# A tiny NIfTI segmentation model for modelhub's DICOM conformance test (and the
# issues that build on a model returning a mask): it thresholds a CT volume at
# -500 HU (tissue 1, air 0). The engine passes the case as the dict of its JSON:
# {"format": [...], "image": {"fileurl": PATH, "type": [...]}}; the volume is
# read through SimpleITK (the realengine stand-in reads NIfTI with nibabel in
# SimpleITK's conventions: array [z, y, x], geometry in LPS), as real models do.
import numpy as np
import SimpleITK as sitk
from modelhublib.model import ModelBase


class Model(ModelBase):

    def __init__(self):
        pass

    def infer(self, input):
        img = sitk.ReadImage(input["image"]["fileurl"])
        arr = sitk.GetArrayFromImage(img)
        return (arr > -500).astype(np.uint8)
