"""The HTTP layer: blueprints (hooks, meta, /fhir, /demo), the JSON error handler,
settings, JWT checks, the log."""

from service.http.demo import blueprint as demo_blueprint
from service.http.fhir import blueprint as fhir_blueprint
from service.http.hooks import blueprint as hooks_blueprint
from service.http.meta import blueprint as meta_blueprint

__all__ = ["demo_blueprint", "fhir_blueprint", "hooks_blueprint", "meta_blueprint"]
