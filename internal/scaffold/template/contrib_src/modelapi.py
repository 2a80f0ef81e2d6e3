# Optional hooks to customize the REST API of this model (e.g. extra routes).
# Leave it as it is when the defaults of the modelhub engine are enough.


def register(app, api):
    """Called with the Flask app and the ModelHubAPI before the server starts."""
    return None
