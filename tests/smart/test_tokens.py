"""The demo EHR's signed launch ids, codes and tokens."""

from __future__ import annotations

import time

from service.smart import AccessToken, CodeClaims, DemoTokens, LaunchContext

CLAIMS = CodeClaims(
    jti="j1",
    client_id="sclc-relapse-app",
    redirect_uri="http://localhost/app/callback",
    scope="launch patient/Patient.rs",
    patient="third-line",
    code_challenge="c" * 43,
    code_challenge_method="S256",
)


def test_each_value_reads_back_with_the_same_key() -> None:
    """Launch id, code and token round-trip under one secret."""
    tokens = DemoTokens("secret")
    context = LaunchContext(patient="third-line", app_context='{"view": "timeline"}')
    assert tokens.read_launch(tokens.launch_id(context)) == context
    assert tokens.read_code(tokens.code(CLAIMS)) == CLAIMS
    token = AccessToken("sclc-relapse-app", "launch", "third-line", int(time.time()) + 60)
    assert tokens.read_access_token(tokens.access_token(token)) == token


def test_another_key_an_altered_value_or_another_kind_is_refused() -> None:
    """Signed with another key, altered, or a code offered as a token: None."""
    tokens = DemoTokens("secret")
    code = tokens.code(CLAIMS)
    assert DemoTokens("other").read_code(code) is None
    assert tokens.read_code(code[:-2] + ("A" if code[-2] != "A" else "B") + code[-1]) is None
    assert tokens.read_access_token(code) is None
    assert tokens.read_launch(code) is None


def test_an_expired_token_is_refused() -> None:
    """A token past its expires_at reads as None."""
    tokens = DemoTokens("secret")
    token = AccessToken("sclc-relapse-app", "launch", "third-line", int(time.time()) - 1)
    assert tokens.read_access_token(tokens.access_token(token)) is None
    assert tokens.read_access_token(tokens.access_token(token), now=time.time() - 3600)
