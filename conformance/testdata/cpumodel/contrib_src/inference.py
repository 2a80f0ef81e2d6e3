# A model that spends about 100 ms of CPU on each prediction (the replicas
# benchmark and test): a busy loop until the process has used
# MODEL_CPU_MS (default 100) ms of CPU time, then the mean brightness as a
# label_list.
import os
import time
import numpy as np
from PIL import Image
from modelhublib.model import ModelBase


class Model(ModelBase):

    def __init__(self):
        self._cpu = float(os.environ.get("MODEL_CPU_MS", "100")) / 1000.0

    def infer(self, input):
        t0 = time.process_time()
        n = 0
        while time.process_time() - t0 < self._cpu:
            n += 1
        p = float(np.asarray(Image.open(input).convert("L"), dtype=np.float64).mean() / 255.0)
        return [[{"label": "bright", "probability": p}, {"label": "dark", "probability": 1.0 - p}]]
