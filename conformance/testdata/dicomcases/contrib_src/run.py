# Starts the modelhub REST API for this model on port 80 (the engine's webservice).
import os
from modelhubapi import webservice
from inference import Model

if __name__ == "__main__":
    contrib_src_dir = os.path.dirname(os.path.realpath(__file__))
    print("cases model: starting the REST API")
    webservice.start(Model(), contrib_src_dir)
