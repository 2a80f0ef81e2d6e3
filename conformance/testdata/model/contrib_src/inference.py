# A tiny real model: a logistic regression on the mean brightness of an image.
# Its two weights (scale, bias; little-endian float32) are the external file
# model/weights.bin, downloaded by `modelhub pull` from init.json's src_url.
import os
import numpy as np
from modelhublib.model import ModelBase
from processing import ImageProcessor


class Model(ModelBase):

    def __init__(self):
        here = os.path.dirname(os.path.realpath(__file__))
        with open(os.path.join(here, "model", "config.json")) as f:
            import json
            self._config = json.load(f)
        self._imageProcessor = ImageProcessor(self._config)
        self._weights = np.fromfile(os.path.join(here, "model", "weights.bin"), dtype="<f4")
        print("brightness model: loaded %d weights" % self._weights.size)

    def infer(self, input):
        arr = self._imageProcessor.loadAndPreprocess(input)
        scale, bias = float(self._weights[0]), float(self._weights[1])
        p = 1.0 / (1.0 + np.exp(-(scale * float(arr.mean()) + bias)))
        return self._imageProcessor.computeOutput(p)
