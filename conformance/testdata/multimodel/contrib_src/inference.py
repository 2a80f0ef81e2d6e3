# A tiny two-input model for `modelhub predict`'s conformance test: the mean
# brightness of its inputs t1 and t2 (images), as a label_list. The engine
# passes a multi-input case as the dict of its JSON:
# {"format": [...], "t1": {"fileurl": PATH, ...}, "t2": {...}}.
import numpy as np
from PIL import Image
from modelhublib.model import ModelBase


class Model(ModelBase):

    def __init__(self):
        pass

    def infer(self, input):
        means = []
        for name in ("t1", "t2"):
            img = Image.open(input[name]["fileurl"]).convert("L")
            means.append(float(np.asarray(img, dtype=np.float32).mean()) / 255.0)
        p = sum(means) / len(means)
        return [{"label": "bright", "probability": p},
                {"label": "dark", "probability": 1.0 - p}]
