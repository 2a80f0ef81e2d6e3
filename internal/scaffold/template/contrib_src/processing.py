# Converts input files to the arrays your model expects, and its raw output to the
# declared outputs (see model/config.json, model.io.output).
from modelhublib.processor import ImageProcessorBase


class ImageProcessor(ImageProcessorBase):

    def _preprocessBeforeConversionToNumpy(self, image):
        # TODO: resize, normalize... the decoded input image.
        return image

    def _preprocessAfterConversionToNumpy(self, npArr):
        # TODO: reorder axes, add a batch dimension...
        return npArr

    def computeOutput(self, inferenceResults):
        # TODO: e.g. a label_list is a list of {"label": ..., "probability": ...}.
        return inferenceResults
