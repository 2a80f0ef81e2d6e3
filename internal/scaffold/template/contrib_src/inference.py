# Loads the model once and runs one prediction per input file.
from modelhublib.model import ModelBase
from processing import ImageProcessor


class Model(ModelBase):

    def __init__(self):
        # TODO: load your model from contrib_src/model/ (e.g. model/model.weights).
        self._imageProcessor = ImageProcessor(self._loadConfig())
        self._model = None

    def _loadConfig(self):
        import json
        import os
        here = os.path.dirname(os.path.realpath(__file__))
        with open(os.path.join(here, "model", "config.json")) as f:
            return json.load(f)

    def infer(self, input):
        # Return one value per output declared in model/config.json, in the same order.
        inputAsNpArr = self._imageProcessor.loadAndPreprocess(input)
        output = self._model(inputAsNpArr)  # TODO: run your model
        return self._imageProcessor.computeOutput(output)
