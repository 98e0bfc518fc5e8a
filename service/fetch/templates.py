"""CDS Hooks prefetch templates: their tokens filled from a hook's context ("Prefetch
tokens": `{{context.<field>}}` and the four user identifiers)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from service.errors import InputError

__all__ = ["render_template", "template_values"]

# "Prefetch tokens": `{{context.<root-level field>}}` and the four user identifiers.
_TOKEN = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


def _token_value(name: str, context: Mapping[str, Any]) -> str:
    if name.startswith("context."):
        field = name.removeprefix("context.")
        value = context.get(field)
        if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
            raise InputError(f"prefetch token {{{{{name}}}}} needs a value in context.{field}")
        return str(value)
    if name in _USER_TOKENS:
        user = context.get("userId")
        kind, _, ident = user.partition("/") if isinstance(user, str) else ("", "", "")
        if kind != _USER_TOKENS[name] or not ident:
            raise InputError(f"prefetch token {{{{{name}}}}} needs a {_USER_TOKENS[name]} userId")
        return ident
    raise InputError(f"prefetch token {{{{{name}}}}} is not a CDS Hooks prefetch token")


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """The relative FHIR URL of a prefetch template, its tokens filled from `context`.

    Values are percent-encoded except `/` (a `{{context.userId}}` read is `Type/id`).
    Raises InputError naming the token when the context has no usable value for it.
    """
    return _TOKEN.sub(lambda hit: quote(_token_value(hit.group(1), context), safe="/"), template)


def template_values(templates: Iterable[str], context: Mapping[str, Any]) -> tuple[str, ...]:
    """The values `context` gives the tokens of these templates, in the order of their
    first use: what renders them, so equal values render them equally (a cache key).
    Raises InputError as `render_template` does."""
    return tuple(_token_value(name, context) for name in _token_names(tuple(templates)))


@functools.cache
def _token_names(templates: tuple[str, ...]) -> tuple[str, ...]:
    names = (hit.group(1) for template in templates for hit in _TOKEN.finditer(template))
    return tuple(dict.fromkeys(names))
