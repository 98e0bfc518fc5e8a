"""The SMART app keeps the EHR's tokens server side (issue point 3): no bearer token in
any cookie, URL, page or log line; the cookie is an opaque id that rotates at sign-in;
an unknown or expired id is a clean new launch; plain http away from loopback is refused.

Each launch is a whole one against the fixture EHR (`/fhir` and its demo authorization
server, tokens required on `/fhir`), every response kept and searched."""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import time
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from authlib.integrations.requests_client import OAuth2Session

from service.smart.session_cookie import COOKIE
from tests.http.conftest import AppFactory
from tests.http.smart_flow import (
    OWN_FHIR,
    TIMELINE_CONTEXT,
    grant_of,
    launch_id,
    redirected,
    session_id,
    sign_in,
    start,
)
from tests.http.support import CheckedClient

EXPIRED = "Your session has expired; launch the app again from the EHR."
HTTPS_ONLY = "The app is served over https only."
REFRESH_TOKEN = "refresh-token-of-the-ehr-7f2c41d09a"  # noqa: S105 - a fake token of the tests
ID_TOKEN = "id-token-of-the-ehr-b83e5a61c0"  # noqa: S105 - a fake token of the tests


def _client(make_app: AppFactory, **config: Any) -> CheckedClient:
    return make_app(DEMO_FHIR_AUTH=True, **config).test_client()  # type: ignore[no-any-return]


def _decodings(value: str) -> Iterator[str]:
    """`value`, URL-decoded, and each of its dot-separated parts base64url-decoded (and
    inflated when zlib-compressed): every way a signed cookie's payload can be read."""
    for text in {value, unquote(value)}:
        yield text
        for part in [text, *text.split(".")]:
            try:
                raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            except (binascii.Error, ValueError):
                continue
            yield raw.decode("latin-1")
            try:
                yield zlib.decompress(raw).decode("latin-1")
            except zlib.error:
                pass


def _pieces(token: str) -> set[str]:
    """The token and each long part of it (a signed token's payload or signature)."""
    return {token, *(part for part in token.split(".") if len(part) >= 12)}


def _assert_nowhere(secrets_: set[str], values: list[str], where: str) -> None:
    for value in values:
        for text in _decodings(value):
            for piece in secrets_:
                assert piece not in text, f"a token's part is in {where}: {value[:80]}"


class Recorded:
    """Every response a browser got: Set-Cookie and Location headers, and bodies."""

    def __init__(self, client: CheckedClient) -> None:
        self.client = client
        self.cookies: list[str] = []
        self.locations: list[str] = []
        self.bodies: list[str] = []

    def get(self, url: str) -> Any:
        answer = self.client.get(url)
        self.cookies += answer.headers.getlist("Set-Cookie")
        self.locations += answer.headers.getlist("Location")
        self.bodies.append(answer.get_data(as_text=True))
        answer.close()  # a static file's
        return answer


@pytest.fixture
def issued(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The EHR's token responses as the app got them, each also carrying a refresh
    token and an id token."""
    fetch = OAuth2Session.fetch_token
    seen: list[dict[str, Any]] = []

    def fetch_more(self: OAuth2Session, *args: Any, **kwargs: Any) -> Any:
        token = fetch(self, *args, **kwargs)
        token.update(refresh_token=REFRESH_TOKEN, id_token=ID_TOKEN)
        seen.append(dict(token))
        return token

    monkeypatch.setattr(OAuth2Session, "fetch_token", fetch_more)
    return seen


def test_no_token_in_any_cookie_url_page_or_log_line(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture, issued: list[dict[str, Any]]
) -> None:
    """A whole EHR launch and the page's data: the access, refresh and id tokens are in
    no Set-Cookie (however decoded), no Location, no page, script or API answer, and no
    log line; the app still reads the record with its token."""
    caplog.set_level(logging.DEBUG)
    client = _client(make_app)
    browser = Recorded(client)
    authorize = redirected(
        browser.get(f"/app/launch?iss={OWN_FHIR}&launch={launch_id(client, 'third-line')}")
    )
    callback = redirected(browser.get(authorize))
    redirected(browser.get(callback))
    for page in ("/app/view", "/app/static/app.js", "/app/static/chart.js", "/app/api/record"):
        answer = browser.get(page)
        assert answer.status_code == 200, (page, answer.get_data()[:300])
    (token,) = issued
    tokens = _pieces(str(token["access_token"])) | {REFRESH_TOKEN, ID_TOKEN}
    assert browser.cookies and len(browser.locations) == 3
    _assert_nowhere(tokens, browser.cookies, "a Set-Cookie")
    _assert_nowhere(tokens, browser.locations, "a Location")
    _assert_nowhere(tokens, browser.bodies, "a page, script or API answer")
    _assert_nowhere(tokens, [r.getMessage() for r in caplog.records], "the log")
    sent = [c.split(";")[0].removeprefix(f"{COOKIE}=") for c in browser.cookies]
    assert len(sent) == 2 and sent[-1] == session_id(client)  # at launch, at sign-in
    assert all(len(value) == 43 for value in sent)  # secrets.token_urlsafe(32)
    grant = grant_of(client)  # server side: the tokens are kept, and were used
    assert grant["access_token"] == token["access_token"]
    assert (grant["refresh_token"], grant["id_token"]) == (REFRESH_TOKEN, ID_TOKEN)


def test_the_cookie_is_an_opaque_id_scoped_to_the_app(make_app: AppFactory) -> None:
    """HttpOnly and Path=/app always; SameSite=Lax over plain http (loopback); over https
    SameSite=None, Secure and Partitioned, so an EHR's cross-site frame keeps it."""
    plain = _client(make_app).get(f"/app/launch?iss={OWN_FHIR}").headers["Set-Cookie"]
    attributes = {part.strip() for part in plain.split(";")[1:]}
    assert {"HttpOnly", "Path=/app", "SameSite=Lax"} <= attributes
    assert not {"Secure", "Partitioned", "SameSite=None"} & attributes
    client = _client(make_app)
    over_tls = client.get(
        "/app/launch", query_string={"iss": "https://localhost/fhir"}, base_url="https://localhost"
    )
    attributes = {part.strip() for part in over_tls.headers["Set-Cookie"].split(";")[1:]}
    assert {"HttpOnly", "Path=/app", "Secure", "SameSite=None", "Partitioned"} <= attributes


def test_the_session_id_rotates_at_sign_in_and_the_old_one_is_dead(
    make_app: AppFactory,
) -> None:
    """The id given at launch is replaced at the callback; the launch's id then opens
    nothing (a fixed or stolen pre-sign-in id is worth nothing), the new one the record."""
    client = _client(make_app)
    authorize = start(client, launch=launch_id(client, "third-line", TIMELINE_CONTEXT))
    before = session_id(client)
    assert before is not None
    redirected(client.get(redirected(client.get(authorize))))
    after = session_id(client)
    assert after is not None and after != before
    assert client.get("/app/api/record").status_code == 200
    client.set_cookie(COOKIE, before, path="/app")
    stale = client.get("/app/api/record")
    assert stale.status_code == 401
    assert stale.get_json()["issue"][0]["diagnostics"] == EXPIRED


@pytest.mark.parametrize(
    "cookie",
    [secrets.token_urlsafe(32), "not an id", "x" * 4000, ".eJyrVspOrVSyUipLzClNBQA"],
    ids=["unknown-id", "not-an-id", "huge", "an-old-flask-session"],
)
def test_an_unknown_session_is_a_clean_relaunch(make_app: AppFactory, cookie: str) -> None:
    """A cookie naming no session: the expired page (401, not a 500), the cookie
    cleared, and a new launch signs in."""
    client = _client(make_app)
    client.set_cookie(COOKIE, cookie, path="/app")
    page = client.get("/app/view")
    assert page.status_code == 401 and EXPIRED in page.get_data(as_text=True)
    assert "Max-Age=0" in page.headers["Set-Cookie"]
    sign_in(client, "third-line")
    assert client.get("/app/api/record").status_code == 200


def test_an_idle_session_expires_into_a_clean_relaunch(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unused for SCLC_CDS_APP_SESSION_IDLE_SECONDS: the expired message on the page and
    the API, then a new launch signs in."""
    client = _client(make_app, APP_SESSION_IDLE_SECONDS=60)
    sign_in(client, "third-line")
    assert client.get("/app/api/record").status_code == 200
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    page = client.get("/app/view")
    assert page.status_code == 401 and EXPIRED in page.get_data(as_text=True)
    sign_in(client, "third-line")
    assert client.get("/app/view").status_code == 200


def test_a_session_ends_at_its_maximum_age_however_used(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SCLC_CDS_APP_SESSION_MAX_SECONDS after sign-in the session ends, even in use."""
    client = _client(make_app, APP_SESSION_IDLE_SECONDS=60, APP_SESSION_MAX_SECONDS=100)
    sign_in(client, "third-line")
    began = time.time()
    for step in (50, 99):
        monkeypatch.setattr(time, "time", lambda step=step: began + step)
        assert client.get("/app/view").status_code == 200
    monkeypatch.setattr(time, "time", lambda: began + 101)
    assert client.get("/app/view").status_code == 401


@pytest.mark.parametrize(
    ("path", "config", "remote"),
    [
        ("/app/", {}, "203.0.113.7"),
        (f"/app/launch?iss={OWN_FHIR}", {}, "203.0.113.7"),
        ("/app/callback?code=c&state=s", {}, "203.0.113.7"),
        ("/app/view", {"BASE_URL": "http://cds.example.org"}, "127.0.0.1"),
        ("/app/api/record", {}, "203.0.113.7"),
    ],
    ids=["form", "launch", "callback", "public-http-base-url", "api"],
)
def test_plain_http_away_from_loopback_is_refused(
    make_app: AppFactory, path: str, config: dict[str, str], remote: str
) -> None:
    """Over plain http, from another machine or at a public http:// address: 403 saying
    the app is served over https only (a page, or an OperationOutcome for the API); no
    session is begun and no request leaves for the EHR."""
    client = _client(make_app, **config)
    answer = client.get(path, environ_base={"REMOTE_ADDR": remote})
    assert answer.status_code == 403
    assert "Set-Cookie" not in answer.headers
    if path.startswith("/app/api/"):
        assert answer.get_json()["issue"][0]["diagnostics"] == HTTPS_ONLY
    else:
        assert HTTPS_ONLY in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("config", "base_url"),
    [({}, "https://cds.example.org"), ({"BASE_URL": "https://cds.example.org"}, None)],
    ids=["tls-at-the-service", "tls-at-a-proxy"],
)
def test_https_is_served_from_anywhere(
    make_app: AppFactory, config: dict[str, str], base_url: str | None
) -> None:
    """Over https (the service's own TLS, or a proxy's that SCLC_CDS_BASE_URL names) the
    app answers callers on any address."""
    client = _client(make_app, **config)
    answer = client.get("/app/", environ_base={"REMOTE_ADDR": "203.0.113.7"}, base_url=base_url)
    assert answer.status_code == 200
