"""SMART App Launch 2.0 without Flask: what the app asks an EHR for, and the demo EHR's
signed values.

- `configuration`: a FHIR server's `.well-known/smart-configuration`, read into
  `SmartConfiguration`, and the scopes the app requests from it (patient-scoped reads of
  exactly the resources the engine reads: v2 `patient/X.rs`, v1 `patient/X.read`).
- `tokens`: the launch ids, authorization codes and access tokens of the demo
  authorization server on the fixture `/fhir`, signed and stateless, so they work across
  gunicorn workers.

The HTTP side is `service.smart.views` (the app's blueprint), `service.smart.launch` (its
launch, an OAuth 2 client on Authlib), `service.smart.session_cookie` (the signed cookie
that keeps the launch and its grant) and `service.demo.auth_server` (the demo
authorization server, on Authlib).
"""

from service.smart.configuration import (
    READ_RESOURCES,
    SmartConfiguration,
    granting_scopes,
    requested_scopes,
    resources_read,
)
from service.smart.tokens import AccessToken, CodeClaims, DemoTokens, LaunchContext

__all__ = [
    "READ_RESOURCES",
    "AccessToken",
    "CodeClaims",
    "DemoTokens",
    "LaunchContext",
    "SmartConfiguration",
    "granting_scopes",
    "requested_scopes",
    "resources_read",
]
