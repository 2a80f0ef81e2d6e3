# Starts the modelhub REST API for this model on port 80: the engine's
# webservice (modelhubapi, in the model's Docker image) serves it.
# You rarely need to edit this file.
import os
from modelhubapi import webservice
from inference import Model

if __name__ == "__main__":
    contrib_src_dir = os.path.dirname(os.path.realpath(__file__))
    webservice.start(Model(), contrib_src_dir)
