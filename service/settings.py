"""Every setting of the service, read once into one typed `Settings` object.

The app (`service.create_app`), the CLI (`sclc-cds evaluate`, `sclc-cds serve`) and the
server configuration all read their settings here: `DEFAULTS`, then the `SCLC_CDS_*`
environment variables (JSON-decoded where they parse, as Flask's `from_prefixed_env`
does), then a test config. `Settings.from_config` turns that into typed values and
fails with a ValueError naming the variable when one is unusable, so a bad setting
stops the service at start, not at the first hook call. `VARIABLES` lists every
variable with its meaning; the README's configuration table is checked against it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import requests

from service.engine.rules import DEFAULT_THRESHOLDS, Thresholds
from service.fetch.client import DEFAULT_PAGE_CAP, DEFAULT_TIMEOUTS, SessionFactory, Timeouts
from service.fetch.urls import normalise
from service.http.auth import JwtPolicy, policy_from_settings
from service.screen.bulk import origin_of
from service.screen.bulk_limits import DEFAULT_LIMITS, BulkLimits

__all__ = ["DEFAULTS", "ENV_PREFIX", "VARIABLES", "Settings", "load_config"]

ENV_PREFIX = "SCLC_CDS"
# Every setting, by its app.config key (the environment variable is SCLC_CDS_<key>).
DEFAULTS: Mapping[str, Any] = {
    "HOST": "127.0.0.1",  # the address `sclc-cds serve` listens on
    "PORT": 8080,
    "TODAY": None,  # evaluation date YYYY-MM-DD; None: the day of each call
    "FEEDBACK_DB": None,  # SQLite file; None: <instance path>/feedback.sqlite3
    "MAX_BODY_BYTES": 5 * 1024 * 1024,
    "FHIR_PAGE_CAP": DEFAULT_PAGE_CAP,
    "FHIR_CONNECT_TIMEOUT": DEFAULT_TIMEOUTS.connect,
    "FHIR_READ_TIMEOUT": DEFAULT_TIMEOUTS.read,
    "FHIR_SESSION_FACTORY": requests.Session,  # a callable: tests inject theirs (not env)
    "JWT_REQUIRED": False,
    "JWT_JWKS": None,
    "JWT_ISSUERS": None,
    "BASE_URL": None,  # public base URL, when a proxy changes what the service sees
    "CORS_ORIGINS": "*",
    "FHIR_SERVERS": None,  # comma-separated fhirServer URL prefixes to query; None: any
    "FIXTURES_DIR": None,  # fixtures served at /fhir and /demo; None: the demo's own
    "DATABASE_URL": None,  # SQLAlchemy URL (postgresql+psycopg://…); None: SQLite FEEDBACK_DB
    "FHIR_BUDGET_SECONDS": 5.0,  # wall clock for all FHIR requests of one hook call
    "FHIR_MAX_ANSWER_BYTES": 10 * 1024 * 1024,  # one answer of the FHIR server
    "FHIR_MAX_CALL_BYTES": 32 * 1024 * 1024,  # every answer of one hook call together
    "WORKERS": None,  # gunicorn worker processes; None: one per CPU
    "THREADS": 4,  # threads of each worker
    "CACHE": True,  # false: no call is answered from a cache (service.cache)
    "TLS_CERT": None,  # PEM certificate: `sclc-cds serve` speaks HTTPS itself
    "TLS_KEY": None,  # its private key
    "INSECURE": False,  # true: allow serving a non-loopback address without JWTs (loud)
    "DEMO": None,  # /demo and the fixture /fhir; None: on when bound to loopback only
    "DEMO_FHIR_AUTH": False,  # true: the fixture /fhir needs a token from its demo OAuth
    "SECRET_KEY": None,  # signs the demo EHR's codes and tokens; None: kept in the instance folder
    "APP_SESSION_IDLE_SECONDS": 1800,  # the SMART app's sign-in ends after this long unused
    "APP_SESSION_MAX_SECONDS": 8 * 3600,  # and this long after it began, whatever the token says
    "SMART_CLIENT_ID": "sclc-relapse-app",  # the SMART app's client_id at the EHR
    # `sclc-cds screen --bulk-export` (its --bulk-… options win):
    "BULK_ALLOW_ORIGINS": None,  # comma-separated origins besides the kick-off's: the token
    "BULK_MAX_LINE_BYTES": DEFAULT_LIMITS.max_line_bytes,
    "BULK_MAX_DECOMPRESSED_BYTES": DEFAULT_LIMITS.max_decompressed_bytes,
    "BULK_MAX_FILE_BYTES": DEFAULT_LIMITS.max_file_bytes,
    "BULK_MAX_EXPORT_BYTES": DEFAULT_LIMITS.max_export_bytes,
}
# Settings that are not environment variables (callables tests and embedders inject).
NOT_FROM_ENV = frozenset({"FHIR_SESSION_FACTORY"})
THRESHOLD_KEY = "THRESHOLD_"  # SCLC_CDS_THRESHOLD_<FIELD> overrides Thresholds.<field>
# Every environment variable the service reads (the README's configuration table).
VARIABLES: tuple[str, ...] = (
    *(f"{ENV_PREFIX}_{key}" for key in DEFAULTS if key not in NOT_FROM_ENV),
    f"{ENV_PREFIX}_{THRESHOLD_KEY}<NAME>",
)


def demo_installed() -> bool:
    """Whether this installation has the demo EHR (the production image leaves it out)."""
    try:
        return importlib.util.find_spec("service.demo.pages") is not None
    except ModuleNotFoundError:  # no service.demo package at all
        return False


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _name(key: str) -> str:
    return f"{ENV_PREFIX}_{key}"


def _flag(config: Mapping[str, Any], key: str) -> bool:
    value = config.get(key)
    if isinstance(value, bool | int) or value is None:
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{_name(key)} must be true or false")


def _number(config: Mapping[str, Any], key: str, kind: type[int] | type[float]) -> Any:
    try:
        number = kind(str(config.get(key)))  # str(): "20.5", True and None are refused
    except ValueError:
        raise ValueError(f"{_name(key)} must be a positive {kind.__name__}") from None
    if number <= 0:
        raise ValueError(f"{_name(key)} must be a positive {kind.__name__}")
    return number


def _today(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{_name('TODAY')} must be a date (YYYY-MM-DD)") from None


def _origins(value: Any) -> str | list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"{_name('CORS_ORIGINS')} must be * or a comma-separated list")
    origins = [i.strip() for i in items if i.strip()]
    if not origins:
        raise ValueError(f"{_name('CORS_ORIGINS')} must be * or a comma-separated list")
    return "*" if "*" in origins else origins


def _servers(value: Any) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"{_name('FHIR_SERVERS')} must be a comma-separated list of URLs")
    try:
        # Normalised here, so a bad entry stops the service at start (service.fetch.urls).
        prefixes = tuple(normalise(i.strip()) for i in items if i.strip())
    except ValueError:
        raise ValueError(f"{_name('FHIR_SERVERS')} must list http(s) URLs") from None
    return prefixes or None


def _bulk_origins(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"{_name('BULK_ALLOW_ORIGINS')} must be a comma-separated list")
    try:
        return tuple(origin_of(i.strip()) for i in items if i.strip())
    except ValueError:
        raise ValueError(f"{_name('BULK_ALLOW_ORIGINS')} must list http(s) origins") from None


def _thresholds(config: Mapping[str, Any]) -> Thresholds:
    """`Thresholds` with any `THRESHOLD_<FIELD>` overrides; ValueError names the variable."""
    changes: dict[str, Any] = {}
    for spec in dataclasses.fields(Thresholds):
        key = THRESHOLD_KEY + spec.name.upper()
        if key not in config:
            continue
        default = getattr(DEFAULT_THRESHOLDS, spec.name)
        try:
            changes[spec.name] = type(default)(str(config[key]))
        except ValueError:
            raise ValueError(f"{_name(key)} must be a {type(default).__name__}") from None
    return dataclasses.replace(DEFAULT_THRESHOLDS, **changes)


def load_config(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`DEFAULTS`, then `SCLC_CDS_*` variables (JSON-decoded when they parse), then
    `overrides`: the one reading of the environment."""
    config = dict(DEFAULTS)
    prefix = f"{ENV_PREFIX}_"
    for name in sorted(environ):
        if not name.startswith(prefix):
            continue
        value: Any = environ[name]
        try:
            value = json.loads(value)
        except ValueError:
            pass
        config[name.removeprefix(prefix)] = value
    config.update(overrides or {})
    return config


@dataclass(frozen=True, slots=True)
class Settings:
    """Typed settings of one app (see the README's configuration table)."""

    today: date | None
    thresholds: Thresholds
    feedback_db: Path
    max_body_bytes: int
    cors_origins: str | list[str]
    page_cap: int
    timeouts: Timeouts
    session_factory: SessionFactory
    jwt: JwtPolicy | None
    base_url: str | None
    fixtures_dir: Path | None = None  # None: the demo's own (service.demo.shipped_fixtures)
    host: str = "127.0.0.1"
    port: int = 8080
    fhir_servers: tuple[str, ...] | None = None
    database_url: str | None = None
    fhir_budget_seconds: float = 5.0
    fhir_max_answer_bytes: int = 10 * 1024 * 1024
    fhir_max_call_bytes: int = 32 * 1024 * 1024
    workers: int = 1
    threads: int = 4
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure: bool = False
    cache: bool = True
    demo: bool | None = None
    demo_fhir_auth: bool = False
    secret_key: str | None = None
    smart_client_id: str = "sclc-relapse-app"
    app_session_idle_seconds: int = 1800
    app_session_max_seconds: int = 8 * 3600
    bulk_allow_origins: tuple[str, ...] = ()
    bulk_limits: BulkLimits = DEFAULT_LIMITS

    @property
    def demo_enabled(self) -> bool:
        """/demo and the fixture /fhir are served (unset: on where the demo is installed;
        `sclc-cds serve` decides by the address it binds)."""
        return self.demo is True or (self.demo is None and demo_installed())

    def evaluation_date(self) -> date:
        """The day the engine evaluates at: the fixed `TODAY`, else today."""
        return self.today or date.today()

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        overrides: Mapping[str, Any] | None = None,
        *,
        instance_path: str = ".",
    ) -> Settings:
        """The settings of `environ` (and `overrides`), checked."""
        return cls.from_config(load_config(environ, overrides), instance_path=instance_path)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, instance_path: str) -> Settings:
        """Checked settings; ValueError names the variable that is unusable."""
        jwt_policy = None
        base_url = config.get("BASE_URL") or None
        if _flag(config, "JWT_REQUIRED"):
            if not base_url:
                # The JWT's aud is this URL: never taken from the request's Host header.
                raise ValueError(
                    f"{_name('JWT_REQUIRED')} needs {_name('BASE_URL')} (the aud JWTs name)"
                )
            jwt_policy = policy_from_settings(
                config.get("JWT_ISSUERS"), config.get("JWT_JWKS"), where=_name("JWT_REQUIRED")
            )
        database = config.get("FEEDBACK_DB") or Path(instance_path) / "feedback.sqlite3"
        session_factory = config.get("FHIR_SESSION_FACTORY")
        if not callable(session_factory):
            raise ValueError("FHIR_SESSION_FACTORY must make a requests.Session")
        return cls(
            today=_today(config.get("TODAY")),
            thresholds=_thresholds(config),
            feedback_db=Path(database),
            max_body_bytes=_number(config, "MAX_BODY_BYTES", int),
            cors_origins=_origins(config.get("CORS_ORIGINS")),
            page_cap=_number(config, "FHIR_PAGE_CAP", int),
            timeouts=Timeouts(
                connect=_number(config, "FHIR_CONNECT_TIMEOUT", float),
                read=_number(config, "FHIR_READ_TIMEOUT", float),
            ),
            session_factory=session_factory,
            jwt=jwt_policy,
            base_url=str(base_url).rstrip("/") if base_url else None,
            fixtures_dir=Path(found) if (found := config.get("FIXTURES_DIR")) else None,
            fhir_servers=_servers(config.get("FHIR_SERVERS")),
            host=str(config.get("HOST") or "127.0.0.1"),
            port=_number(config, "PORT", int),
            database_url=str(config["DATABASE_URL"]) if config.get("DATABASE_URL") else None,
            fhir_budget_seconds=_number(config, "FHIR_BUDGET_SECONDS", float),
            fhir_max_answer_bytes=_number(config, "FHIR_MAX_ANSWER_BYTES", int),
            fhir_max_call_bytes=_number(config, "FHIR_MAX_CALL_BYTES", int),
            workers=(
                _number(config, "WORKERS", int)
                if config.get("WORKERS") is not None
                else max(1, os.cpu_count() or 1)
            ),
            threads=_number(config, "THREADS", int),
            tls_cert=Path(config["TLS_CERT"]) if config.get("TLS_CERT") else None,
            tls_key=Path(config["TLS_KEY"]) if config.get("TLS_KEY") else None,
            insecure=_flag(config, "INSECURE"),
            cache=_flag(config, "CACHE"),
            demo=None if config.get("DEMO") in (None, "", "auto") else _flag(config, "DEMO"),
            demo_fhir_auth=_flag(config, "DEMO_FHIR_AUTH"),
            secret_key=str(config["SECRET_KEY"]) if config.get("SECRET_KEY") else None,
            smart_client_id=str(config.get("SMART_CLIENT_ID") or "sclc-relapse-app"),
            app_session_idle_seconds=_number(config, "APP_SESSION_IDLE_SECONDS", int),
            app_session_max_seconds=_number(config, "APP_SESSION_MAX_SECONDS", int),
            bulk_allow_origins=_bulk_origins(config.get("BULK_ALLOW_ORIGINS")),
            bulk_limits=BulkLimits(
                max_line_bytes=_number(config, "BULK_MAX_LINE_BYTES", int),
                max_decompressed_bytes=_number(config, "BULK_MAX_DECOMPRESSED_BYTES", int),
                max_file_bytes=_number(config, "BULK_MAX_FILE_BYTES", int),
                max_export_bytes=_number(config, "BULK_MAX_EXPORT_BYTES", int),
            ),
        )
