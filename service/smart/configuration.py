"""A FHIR server's SMART configuration, and the scopes the app asks it for.

SMART App Launch 2.0 (hl7.org/fhir/smart-app-launch, "Conformance"): a server publishes
`{iss}/.well-known/smart-configuration` with its `authorization_endpoint`,
`token_endpoint`, `capabilities` and, optionally, `scopes_supported` and
`code_challenge_methods_supported` (which must hold `S256`: SMART 2.0 requires PKCE with
S256 and forbids `plain`). `SmartConfiguration.from_json` reads that document, refusing
one the app cannot use.

The app asks for patient-scoped reads of exactly the resource types the engine reads,
derived from the CDS services' prefetch templates (`service.hooks.PREFETCH`, the one list
of queries the service makes): v2 scopes (`patient/Observation.rs`: read and search)
when the server says it understands them (`permission-v2`, or a v2 scope among
`scopes_supported`), else the v1 form (`patient/Observation.read`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from service.fetch.urls import normalise
from service.hooks import PREFETCH

__all__ = [
    "READ_RESOURCES",
    "SmartConfiguration",
    "granting_scopes",
    "requested_scopes",
    "resources_read",
]

# `_include=<Type>:<parameter>` brings the resources that parameter references: the
# prefetch templates include the Medication of each medication record.
_INCLUDE_TARGETS = {"medication": "Medication"}
_KIND = re.compile(r"^([A-Z][A-Za-z]+)")
# A SMART v2 resource scope: `patient/Observation.rs`, `user/*.cruds`, with an optional
# `?param=value` restriction (v1 scopes end in `.read`, `.write` or `.*`).
_V2_SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.c?r?u?d?s?(\?.*)?$")
# The identity scopes: asked for only where the server offers them (SMART "Scopes for
# requesting identity data"); the engine does not need them.
IDENTITY_SCOPES = ("openid", "fhirUser")


def resources_read(templates: Mapping[str, str]) -> tuple[str, ...]:
    """The resource types the templates read or search (in template order), then those
    their `_include`s bring; each once."""
    kinds: list[str] = []
    included: list[str] = []
    for template in templates.values():
        hit = _KIND.match(template)
        if hit is not None:
            kinds.append(hit.group(1))
        for name, value in parse_qsl(template.partition("?")[2]):
            target = _INCLUDE_TARGETS.get(value.rpartition(":")[2])
            if name == "_include" and target is not None:
                included.append(target)
    return tuple(dict.fromkeys([*kinds, *included]))


# Patient, Condition, MedicationStatement, MedicationRequest, MedicationAdministration,
# Observation, Procedure, Medication: what `service.hooks.PREFETCH` reads, nothing more.
READ_RESOURCES = resources_read(PREFETCH)


def _strings(document: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} is not a list of strings")
    return tuple(value)


def _endpoint(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"the configuration has no {name}")
    return normalise(value)  # ValueError: not http(s), names a user, hides a separator


@dataclass(frozen=True, slots=True)
class SmartConfiguration:
    """What the app uses of a server's `.well-known/smart-configuration`."""

    authorization_endpoint: str
    token_endpoint: str
    capabilities: frozenset[str] = frozenset()
    scopes_supported: tuple[str, ...] | None = None

    @classmethod
    def from_json(cls, document: Any) -> SmartConfiguration:
        """The configuration of a parsed JSON document; ValueError when the app cannot use
        it (no endpoints, endpoints that are not http(s) URLs, PKCE S256 not offered)."""
        if not isinstance(document, dict):
            raise ValueError("the configuration is not a JSON object")
        methods = _strings(document, "code_challenge_methods_supported")
        # Absent in some SMART 1 servers (PKCE is sent anyway); present without S256:
        # the server cannot check the app's PKCE, so the code could be stolen and used.
        if methods is not None and "S256" not in methods:
            raise ValueError("the server does not offer PKCE with S256")
        return cls(
            authorization_endpoint=_endpoint(document, "authorization_endpoint"),
            token_endpoint=_endpoint(document, "token_endpoint"),
            capabilities=frozenset(_strings(document, "capabilities") or ()),
            scopes_supported=_strings(document, "scopes_supported"),
        )

    @property
    def v2_scopes(self) -> bool:
        """Whether the server understands SMART v2 scopes (`patient/X.rs`)."""
        if "permission-v2" in self.capabilities:
            return True
        return any(_V2_SCOPE.match(s) for s in self.scopes_supported or ())

    def offers(self, scope: str) -> bool:
        """Whether the server lists `scope` (a server that lists none may offer any)."""
        return self.scopes_supported is None or scope in self.scopes_supported


def requested_scopes(
    configuration: SmartConfiguration,
    *,
    ehr_launch: bool,
    resources: Iterable[str] = READ_RESOURCES,
) -> str:
    """The `scope` of the app's authorization request: the launch context (`launch` in an
    EHR launch, `launch/patient` standalone), the identity scopes where offered, and a
    patient-scoped read of each resource type, v2 or v1 as the server understands."""
    scopes = ["launch" if ehr_launch else "launch/patient"]
    if all(configuration.offers(s) for s in IDENTITY_SCOPES):
        scopes += IDENTITY_SCOPES
    suffix = "rs" if configuration.v2_scopes else "read"
    scopes += [f"patient/{kind}.{suffix}" for kind in resources]
    return " ".join(scopes)


def granting_scopes(kind: str, *, search: bool) -> list[str]:
    """The scopes any one of which lets a token read (`search` False) or search `kind` in
    the patient's compartment, v2 and v1 alike."""
    v2 = ("s", "rs") if search else ("r", "rs")
    return [
        f"patient/{target}.{permission}"
        for target in (kind, "*")
        for permission in (*v2, "read", "*")
    ]
