"""The HTTP layer: blueprints, the JSON error handler, settings, JWT checks, the log."""

from service.http.hooks import blueprint as hooks_blueprint
from service.http.meta import blueprint as meta_blueprint

__all__ = ["hooks_blueprint", "meta_blueprint"]
