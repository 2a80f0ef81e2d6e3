# A tiny model with two NIfTI keys (t1, flair), for the conformance test of
# predict on DICOM case folders: it reads each volume through SimpleITK (the
# realengine stand-in reads NIfTI with nibabel in SimpleITK's conventions) and
# answers, as a label_list, each input's number of slices / 100, so the test
# can tell which series reached which key.
import SimpleITK as sitk
from modelhublib.model import ModelBase


class Model(ModelBase):

    def __init__(self):
        pass

    def infer(self, input):
        out = []
        for name in ("flair", "t1"):
            arr = sitk.GetArrayFromImage(sitk.ReadImage(input[name]["fileurl"]))
            out.append({"label": name, "probability": arr.shape[0] / 100.0})
        return out
