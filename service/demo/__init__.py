"""The demo EHR and the synthetic patients: a surface of its own, off in production.

- `fixture_store`: the scenario Bundles of `fhir_fixtures/`, indexed for reading.
- `fixture_fhir`: `/fhir`, a read-only FHIR R4 endpoint over them (the CDS Hooks sandbox
  and the demo read it).
- `auth_server`: `/fhir` as a SMART EHR: discovery, an authorization server that approves
  at once, its token endpoint and the sandbox's launch endpoint (Authlib).
- `authorization`: what that server grants and how: its client, the code grant with
  PKCE, the signed codes and tokens (Authlib).
- `pages`: `/demo`, the demo EHR page.
- `synth`: `sclc-cds fixtures new`, a synthetic patient from a short description.
- `population`: `sclc-cds fixtures population`, a synthetic Bulk Data export.
- `noise`: the population's ordinary patients and the noise around its scenario copies.

`install_demo(app, settings)` registers the HTTP parts on the CDS Hooks app
(`service.http.factory.create_app` calls it when `SCLC_CDS_DEMO` is on).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from service.settings import Settings

__all__ = ["fixtures_dir", "install_demo", "shipped_fixtures"]

# The scenario Bundles (`fhir_fixtures/` of the checkout), shipped as this package's data.
FIXTURES_PACKAGE = "service.demo.fixtures"


def shipped_fixtures() -> Path:
    """The folder of the scenario Bundles the package ships."""
    return Path(str(resources.files(FIXTURES_PACKAGE)))


def fixtures_dir(settings: Settings) -> Path:
    """SCLC_CDS_FIXTURES_DIR, else the shipped scenarios."""
    return settings.fixtures_dir or shipped_fixtures()


def install_demo(app: Flask, settings: Settings) -> None:
    """Serve the fixtures at `/fhir` (with their demo authorization server) and `/demo`."""
    from service.demo.auth_server import blueprint as auth_server_blueprint
    from service.demo.fixture_fhir import STORE_KEY
    from service.demo.fixture_fhir import blueprint as fixture_fhir_blueprint
    from service.demo.fixture_store import FixtureStore
    from service.demo.pages import blueprint as pages_blueprint

    app.extensions[STORE_KEY] = FixtureStore.from_dir(fixtures_dir(settings))
    app.register_blueprint(fixture_fhir_blueprint)
    app.register_blueprint(auth_server_blueprint)  # /fhir as a SMART EHR (demo OAuth)
    app.register_blueprint(pages_blueprint)
