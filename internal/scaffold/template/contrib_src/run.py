# Starts the modelhub REST API (and web UI) for this model on port 80.
# The modelhub engine in the Docker image provides modelhubapi; you rarely need to edit this file.
import os
from modelhubapi import ModelHubAPI
from modelhubapi_utils import app
from inference import Model

if __name__ == "__main__":
    contrib_src_dir = os.path.dirname(os.path.realpath(__file__))
    api = ModelHubAPI(Model(), contrib_src_dir)
    app.start(api)
