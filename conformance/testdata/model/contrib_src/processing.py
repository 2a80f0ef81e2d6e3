# Turns an input image into a [1, channels, height, width] float array in 0..1,
# and the model's probability of "bright" into a label_list.
import numpy as np
from modelhublib.processor import ImageProcessorBase


class ImageProcessor(ImageProcessorBase):

    def _preprocessBeforeConversionToNumpy(self, image):
        return image.convert("L")

    def _preprocessAfterConversionToNumpy(self, npArr):
        arr = np.asarray(npArr, dtype=np.float32) / 255.0
        while arr.ndim < 4:
            arr = arr[np.newaxis]
        return arr

    def computeOutput(self, p):
        # One output (a label_list): the engine wraps it in the list of outputs.
        return [{"label": "bright", "probability": p},
                {"label": "dark", "probability": 1.0 - p}]
