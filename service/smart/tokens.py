"""The demo authorization server's launch ids, codes and access tokens: signed, stateless.

Each is a JSON payload signed with the app's secret key (`itsdangerous`, which Flask
ships) under its own salt, so one kind can never be passed off as another, and any
gunicorn worker (or replica with the same key) can read what another issued. Nothing is
encrypted: the payloads hold a fixture patient's id, a scope and a PKCE challenge, which
the browser that carries them already knows. Codes are single-use through the service's
database (`service.demo.authorization`); the signature and age are checked here.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

__all__ = [
    "CODE_SECONDS",
    "LAUNCH_SECONDS",
    "TOKEN_SECONDS",
    "AccessToken",
    "CodeClaims",
    "DemoTokens",
    "LaunchContext",
]

# A launch id is asked for when the EHR shows a card (the CDS Hooks sandbox does so for
# every smart link at once); the clinician may open the link much later.
LAUNCH_SECONDS = 3600
# RFC 6749 §4.1.2: "The authorization code MUST expire shortly after it is issued"; the
# app redeems it at once.
CODE_SECONDS = 60
# The access token's lifetime (`expires_in`); the app then asks for a new launch.
TOKEN_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class LaunchContext:
    """What an EHR launch carries: the patient in context and the card's `appContext`."""

    patient: str
    app_context: str | None = None


@dataclass(frozen=True, slots=True)
class CodeClaims:
    """What an authorization code stands for; `jti` makes each code distinct (used once)."""

    jti: str
    client_id: str
    redirect_uri: str
    scope: str
    patient: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    app_context: str | None = None


@dataclass(frozen=True, slots=True)
class AccessToken:
    """What a bearer token grants: `scope` on `patient`'s records until `expires_at`
    (seconds since the epoch)."""

    client_id: str
    scope: str
    patient: str | None
    expires_at: int

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at


def _fields(payload: Any, kind: type[Any]) -> dict[str, Any] | None:
    """The payload as `kind`'s keyword arguments, or None when it does not fit."""
    names = set(kind.__dataclass_fields__)
    if not isinstance(payload, dict) or not set(payload) <= names:
        return None
    return payload


class DemoTokens:
    """Issues and reads the demo authorization server's signed values with `secret`."""

    def __init__(self, secret: str | bytes) -> None:
        self._launch = URLSafeTimedSerializer(secret, salt="sclc-cds smart launch")
        self._code = URLSafeTimedSerializer(secret, salt="sclc-cds smart code")
        self._token = URLSafeTimedSerializer(secret, salt="sclc-cds smart access token")

    def launch_id(self, context: LaunchContext) -> str:
        return self._launch.dumps(asdict(context))

    def read_launch(self, value: str) -> LaunchContext | None:
        """The launch's context; None when the id is forged, altered or too old."""
        fields = self._load(self._launch, value, max_age=LAUNCH_SECONDS, kind=LaunchContext)
        return LaunchContext(**fields) if fields is not None else None

    def code(self, claims: CodeClaims) -> str:
        return self._code.dumps(asdict(claims))

    def read_code(self, value: str) -> CodeClaims | None:
        """The code's claims; None when it is forged, altered or older than CODE_SECONDS."""
        fields = self._load(self._code, value, max_age=CODE_SECONDS, kind=CodeClaims)
        return CodeClaims(**fields) if fields is not None else None

    def access_token(self, token: AccessToken) -> str:
        return self._token.dumps(asdict(token))

    def read_access_token(self, value: str, *, now: float | None = None) -> AccessToken | None:
        """The token's grant; None when it is forged, altered or expired."""
        fields = self._load(self._token, value, max_age=None, kind=AccessToken)
        if fields is None:
            return None
        token = AccessToken(**fields)
        return None if token.expired(now) else token

    @staticmethod
    def _load(
        serializer: URLSafeTimedSerializer, value: str, *, max_age: int | None, kind: type[Any]
    ) -> dict[str, Any] | None:
        try:
            payload = serializer.loads(value, max_age=max_age)
        except (BadData, UnicodeError):
            return None
        fields = _fields(payload, kind)
        if fields is None:
            return None
        try:
            kind(**fields)  # every field there
        except TypeError:
            return None
        return fields
