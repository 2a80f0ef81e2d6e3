# Placeholder kept for the shape of a modelhub model repo. The demo image's
# engine (demo/engine, a Go program) serves the REST API instead of this file.
from modelhublib.model import ModelBase  # noqa: F401
