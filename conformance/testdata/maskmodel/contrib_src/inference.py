# A tiny segmentation model for the conformance tests of results review: the
# mask of an image's bright pixels (grey level above 128) as a uint8 numpy
# array, which the real engine saves as an .h5 file (h5py) and returns as a
# URL under /api/output/, and the share of bright pixels as a label_list.
import numpy as np
from PIL import Image
from modelhublib.model import ModelBase


class Model(ModelBase):

    def __init__(self):
        pass

    def infer(self, input):
        img = np.asarray(Image.open(input).convert("L"), dtype=np.uint8)
        mask = (img > 128).astype(np.uint8)
        p = float(mask.mean())
        return [[{"label": "lesion", "probability": p},
                 {"label": "none", "probability": 1.0 - p}], mask]
