# Placeholder kept for the shape of a modelhub model repo: the demo engine
# computes the mean intensity of the input image (see demo/engine/api.go).
class Model:
    def infer(self, input):
        raise NotImplementedError("served by the demo engine")
