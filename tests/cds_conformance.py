"""The project's own CDS Hooks 2.0.1 conformance checks, from the specification's text.

Each `*_problems` function returns a list of problems (a JSON path and what is wrong);
`assert_conforms(kind, document)` fails a test with all of them. Sections cited are
those of the 2.0.1 text (`../shared/cds-hooks/spec-2.0.1.md`):

- "Use of JSON": no attribute is null or empty (`null`, `""`, `[]`, `{}`) unless
  specified; the specified exceptions checked here are an empty `cards` list ("HTTP
  Response") and an empty `services` list ("Discovery / Response").
- "Discovery / Response": `services`; each service `hook`, `description`, `id`
  REQUIRED strings, `title` and `usageRequirements` strings, `prefetch` an object of
  string templates.
- "CDS Service Response": `cards` REQUIRED array, `systemActions` array of Actions.
- "Card Attributes": `uuid` string; `summary` REQUIRED string of < 140 characters;
  `detail` string; `indicator` REQUIRED, one of info|warning|critical; `source`
  REQUIRED object; `suggestions` array, and then `selectionBehavior` REQUIRED, one of
  at-most-one|any; `overrideReasons` array of Coding each with `display`; `links`
  array.
- "Source": `label` REQUIRED string; `url` and `icon` absolute URLs; `topic` a Coding.
- "Suggestion": `label` REQUIRED; `uuid` string; `isRecommended` boolean (several
  recommended only when selectionBehavior is `any`); `actions` array of Actions.
- "Action": `type` create|update|delete; `description` REQUIRED string; `resource` a
  FHIR resource, REQUIRED for create and update; a delete names `resourceId` (or, in
  the deprecated form, `resource`).
- "Link": `label`, `url` (absolute), `type` absolute|smart REQUIRED; `appContext`
  string only for smart links; `autolaunchable` boolean.
- "Coding": `code` and `system` REQUIRED strings, `display` string.
- "Feedback": `feedback` array of items: `card` string, `outcome` accepted|overridden,
  `outcomeTimestamp` RFC 3339 date-time (UTC), `acceptedSuggestions` REQUIRED for
  accepted (each `id`), `overrideReason` with `reason` (Coding) and/or `userComment`.
- "Extensions": `extension`, where present, is an object.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "KINDS",
    "assert_conforms",
    "card_problems",
    "discovery_problems",
    "feedback_problems",
    "operation_outcome_problems",
    "service_response_problems",
]

INDICATORS = ("info", "warning", "critical")
SELECTION_BEHAVIORS = ("at-most-one", "any")
ACTION_TYPES = ("create", "update", "delete")
LINK_TYPES = ("absolute", "smart")
OUTCOMES = ("accepted", "overridden")
SUMMARY_LIMIT = 140  # "<140-character summary": at most 139
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")

Problems = list[str]


def _empty_values(value: Any, path: str, allowed: frozenset[str]) -> Problems:
    """Every null or empty value under `value` ("Use of JSON"), except paths `allowed`."""
    problems: Problems = []
    if path not in allowed and (value is None or value in ("", [], {})):
        return [f"{path}: null or empty ({value!r}); omit optional attributes instead"]
    if isinstance(value, dict):
        for key, item in value.items():
            problems += _empty_values(item, f"{path}.{key}", allowed)
    elif isinstance(value, list):
        for number, item in enumerate(value):
            problems += _empty_values(item, f"{path}[{number}]", allowed)
    return problems


def _string(obj: dict[str, Any], key: str, path: str, *, required: bool) -> Problems:
    if key not in obj:
        return [f"{path}.{key}: REQUIRED"] if required else []
    value = obj[key]
    return [] if isinstance(value, str) else [f"{path}.{key}: must be a string"]


def _one_of(obj: dict[str, Any], key: str, path: str, allowed: tuple[str, ...]) -> Problems:
    if key not in obj:
        return [f"{path}.{key}: REQUIRED"]
    return [] if obj[key] in allowed else [f"{path}.{key}: {obj[key]!r} not in {allowed}"]


def _boolean(obj: dict[str, Any], key: str, path: str) -> Problems:
    if key in obj and not isinstance(obj[key], bool):
        return [f"{path}.{key}: must be a boolean"]
    return []


def _absolute_url(obj: dict[str, Any], key: str, path: str, *, required: bool) -> Problems:
    problems = _string(obj, key, path, required=required)
    if problems or key not in obj:
        return problems
    parts = urlsplit(obj[key])
    if not parts.scheme or not parts.netloc:
        return [f"{path}.{key}: must be an absolute URL"]
    return []


def _object(value: Any, path: str) -> Problems:
    return [] if isinstance(value, dict) else [f"{path}: must be an object"]


def _list(obj: dict[str, Any], key: str, path: str) -> Problems:
    if key in obj and not isinstance(obj[key], list):
        return [f"{path}.{key}: must be an array"]
    return []


def _extension(obj: dict[str, Any], path: str) -> Problems:
    return _object(obj["extension"], f"{path}.extension") if "extension" in obj else []


def coding_problems(value: Any, path: str, *, display_required: bool = False) -> Problems:
    """A CDS Hooks Coding ("Data Types / Coding")."""
    if not isinstance(value, dict):
        return [f"{path}: must be a Coding object"]
    problems = _string(value, "code", path, required=True)
    problems += _string(value, "system", path, required=True)
    problems += _string(value, "display", path, required=display_required)
    return problems


def _action_problems(action: Any, path: str) -> Problems:
    if not isinstance(action, dict):
        return [f"{path}: must be an Action object"]
    problems = _one_of(action, "type", path, ACTION_TYPES)
    problems += _string(action, "description", path, required=True)
    if "resource" in action:
        resource = action["resource"]
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            if not (action.get("type") == "delete" and isinstance(resource, str)):
                problems.append(f"{path}.resource: must be a FHIR resource")
    if action.get("type") in ("create", "update") and "resource" not in action:
        problems.append(f"{path}.resource: REQUIRED for {action['type']}")
    if action.get("type") == "delete" and "resourceId" not in action and "resource" not in action:
        problems.append(f"{path}.resourceId: a delete names the resource it deletes")
    problems += _string(action, "resourceId", path, required=False)
    return problems


def _source_problems(source: Any, path: str) -> Problems:
    if not isinstance(source, dict):
        return [f"{path}: REQUIRED object"]
    problems = _string(source, "label", path, required=True)
    problems += _absolute_url(source, "url", path, required=False)
    problems += _absolute_url(source, "icon", path, required=False)
    if "topic" in source:
        problems += coding_problems(source["topic"], f"{path}.topic")
    return problems


def _suggestion_problems(suggestion: Any, path: str) -> Problems:
    if not isinstance(suggestion, dict):
        return [f"{path}: must be a Suggestion object"]
    problems = _string(suggestion, "label", path, required=True)
    problems += _string(suggestion, "uuid", path, required=False)
    problems += _boolean(suggestion, "isRecommended", path)
    problems += _list(suggestion, "actions", path)
    for number, action in enumerate(suggestion.get("actions") or []):
        problems += _action_problems(action, f"{path}.actions[{number}]")
    return problems


def _link_problems(link: Any, path: str) -> Problems:
    if not isinstance(link, dict):
        return [f"{path}: must be a Link object"]
    problems = _string(link, "label", path, required=True)
    problems += _absolute_url(link, "url", path, required=True)
    problems += _one_of(link, "type", path, LINK_TYPES)
    problems += _string(link, "appContext", path, required=False)
    if "appContext" in link and link.get("type") != "smart":
        problems.append(f"{path}.appContext: only for links of type smart")
    problems += _boolean(link, "autolaunchable", path)
    return problems


def card_problems(card: Any, path: str = "card") -> Problems:
    """One card ("Card Attributes" and the structures under it)."""
    if not isinstance(card, dict):
        return [f"{path}: must be a Card object"]
    problems = _string(card, "uuid", path, required=False)
    problems += _string(card, "summary", path, required=True)
    if isinstance(card.get("summary"), str) and len(card["summary"]) >= SUMMARY_LIMIT:
        problems.append(f"{path}.summary: {len(card['summary'])} characters, must be < 140")
    problems += _string(card, "detail", path, required=False)
    problems += _one_of(card, "indicator", path, INDICATORS)
    problems += _source_problems(card.get("source"), f"{path}.source")
    for key in ("suggestions", "overrideReasons", "links"):
        problems += _list(card, key, path)
    suggestions = card.get("suggestions")
    if isinstance(suggestions, list):
        for number, suggestion in enumerate(suggestions):
            problems += _suggestion_problems(suggestion, f"{path}.suggestions[{number}]")
        if "selectionBehavior" not in card:
            problems.append(f"{path}.selectionBehavior: REQUIRED when suggestions are present")
        recommended = [s for s in suggestions if isinstance(s, dict) and s.get("isRecommended")]
        if len(recommended) > 1 and card.get("selectionBehavior") != "any":
            problems.append(f"{path}: several suggestions recommended, selectionBehavior not any")
    if "selectionBehavior" in card and card["selectionBehavior"] not in SELECTION_BEHAVIORS:
        problems.append(
            f"{path}.selectionBehavior: {card['selectionBehavior']!r} not in {SELECTION_BEHAVIORS}"
        )
    for number, reason in enumerate(card.get("overrideReasons") or []):
        problems += coding_problems(
            reason, f"{path}.overrideReasons[{number}]", display_required=True
        )
    for number, link in enumerate(card.get("links") or []):
        problems += _link_problems(link, f"{path}.links[{number}]")
    return problems + _extension(card, path)


def service_response_problems(document: Any) -> Problems:
    """A CDS service's 200 response ("CDS Service Response")."""
    if not isinstance(document, dict):
        return ["$: must be an object"]
    problems: Problems = []
    if not isinstance(document.get("cards"), list):
        problems.append("$.cards: REQUIRED array")
    for number, card in enumerate(document.get("cards") or []):
        problems += card_problems(card, f"$.cards[{number}]")
    problems += _list(document, "systemActions", "$")
    for number, action in enumerate(document.get("systemActions") or []):
        problems += _action_problems(action, f"$.systemActions[{number}]")
    problems += _extension(document, "$")
    return problems + _empty_values(document, "$", frozenset({"$.cards"}))


def discovery_problems(document: Any) -> Problems:
    """The discovery response ("Discovery / Response")."""
    if not isinstance(document, dict):
        return ["$: must be an object"]
    services = document.get("services")
    if not isinstance(services, list):
        return ["$.services: REQUIRED array"]
    problems: Problems = []
    seen: set[tuple[Any, Any]] = set()
    for number, service in enumerate(services):
        path = f"$.services[{number}]"
        if not isinstance(service, dict):
            problems.append(f"{path}: must be an object")
            continue
        for key in ("hook", "description", "id"):
            problems += _string(service, key, path, required=True)
        for key in ("title", "usageRequirements"):
            problems += _string(service, key, path, required=False)
        if isinstance(service.get("id"), str) and "/" in service["id"]:
            problems.append(f"{path}.id: is a URL path segment, must not hold '/'")
        if "prefetch" in service:
            prefetch = service["prefetch"]
            if not isinstance(prefetch, dict):
                problems.append(f"{path}.prefetch: must be an object")
            else:
                for key, template in prefetch.items():
                    if not isinstance(template, str):
                        problems.append(f"{path}.prefetch.{key}: must be a string template")
        key = (service.get("id"), service.get("hook"))
        if key in seen:
            problems.append(f"{path}: id and hook repeat an earlier service")
        seen.add(key)
        problems += _extension(service, path)
    return problems + _empty_values(document, "$", frozenset({"$.services"}))


def feedback_problems(document: Any) -> Problems:
    """A feedback request ("Feedback")."""
    if not isinstance(document, dict) or not isinstance(document.get("feedback"), list):
        return ["$.feedback: REQUIRED array"]
    problems: Problems = []
    for number, item in enumerate(document["feedback"]):
        path = f"$.feedback[{number}]"
        if not isinstance(item, dict):
            problems.append(f"{path}: must be an object")
            continue
        problems += _string(item, "card", path, required=True)
        problems += _one_of(item, "outcome", path, OUTCOMES)
        problems += _string(item, "outcomeTimestamp", path, required=True)
        stamp = item.get("outcomeTimestamp")
        if isinstance(stamp, str) and not _RFC3339.match(stamp):
            problems.append(f"{path}.outcomeTimestamp: not an RFC 3339 date-time")
        if item.get("outcome") == "accepted" and "acceptedSuggestions" not in item:
            problems.append(f"{path}.acceptedSuggestions: REQUIRED for accepted outcomes")
        problems += _list(item, "acceptedSuggestions", path)
        for index, accepted in enumerate(item.get("acceptedSuggestions") or []):
            where = f"{path}.acceptedSuggestions[{index}]"
            if not isinstance(accepted, dict):
                problems.append(f"{where}: must be an object")
            else:
                problems += _string(accepted, "id", where, required=True)
        if "overrideReason" in item:
            reason = item["overrideReason"]
            where = f"{path}.overrideReason"
            if not isinstance(reason, dict):
                problems.append(f"{where}: must be an object")
            else:
                if "reason" in reason:
                    problems += coding_problems(reason["reason"], f"{where}.reason")
                problems += _string(reason, "userComment", where, required=False)
                if "reason" not in reason and "userComment" not in reason:
                    problems.append(f"{where}: needs reason or userComment")
    return problems + _empty_values(document, "$", frozenset())


def operation_outcome_problems(document: Any) -> Problems:
    """The project's error body: an OperationOutcome with one clear error issue."""
    if not isinstance(document, dict) or document.get("resourceType") != "OperationOutcome":
        return ["$: must be an OperationOutcome"]
    issues = document.get("issue")
    if not isinstance(issues, list) or not issues:
        return ["$.issue: REQUIRED non-empty array"]
    problems: Problems = []
    for number, issue in enumerate(issues):
        path = f"$.issue[{number}]"
        if not isinstance(issue, dict):
            problems.append(f"{path}: must be an object")
            continue
        if issue.get("severity") != "error":
            problems.append(f"{path}.severity: must be 'error'")
        for key in ("code", "diagnostics"):
            if not isinstance(issue.get(key), str) or not issue[key]:
                problems.append(f"{path}.{key}: REQUIRED non-empty string")
        diagnostics = issue.get("diagnostics")
        if isinstance(diagnostics, str) and ("Traceback" in diagnostics or "<" in diagnostics):
            problems.append(f"{path}.diagnostics: holds a traceback or markup")
    return problems


KINDS: dict[str, Callable[[Any], Problems]] = {
    "DiscoveryResponse": discovery_problems,
    "ServiceResponse": service_response_problems,
    "FeedbackRequest": feedback_problems,
    "OperationOutcome": operation_outcome_problems,
}


def assert_conforms(kind: str, document: Any) -> None:
    """Fail with every problem of `document` as a `kind` (a key of KINDS)."""
    problems = KINDS[kind](document)
    assert not problems, f"{kind} does not conform:\n" + "\n".join(problems)
