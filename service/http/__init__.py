"""The HTTP layer: blueprints (hooks, meta, /fhir and its SMART EHR side, /demo, the
SMART app at /app), the JSON error handler, settings, JWT checks, the log."""

from service.http.app import blueprint as app_blueprint
from service.http.app import configure_session
from service.http.demo import blueprint as demo_blueprint
from service.http.fhir import blueprint as fhir_blueprint
from service.http.hooks import blueprint as hooks_blueprint
from service.http.meta import blueprint as meta_blueprint
from service.http.smart_ehr import blueprint as smart_ehr_blueprint

__all__ = [
    "app_blueprint",
    "configure_session",
    "demo_blueprint",
    "fhir_blueprint",
    "hooks_blueprint",
    "meta_blueprint",
    "smart_ehr_blueprint",
]
