"""The project's conformance checks catch what the specification forbids.

Positive cases are the spec's own examples (../shared/cds-hooks); two of those examples
break the normative text (the kit's README says which) and must be caught.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cds_conformance import KINDS
from tests.conftest import SHARED

EXAMPLES = SHARED / "cds-hooks" / "spec-2.0.1-examples"
CARD = {"summary": "s", "indicator": "info", "source": {"label": "l"}}


def example(name: str) -> Any:
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the CDS Hooks kit lives in ../shared/cds-hooks")
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("DiscoveryResponse", "discovery-response.json"),
        ("DiscoveryResponse", "discovery-response-with-extension.json"),
        ("ServiceResponse", "service-response-cards.json"),
        ("FeedbackRequest", "feedback-accepted.json"),
        ("FeedbackRequest", "feedback-overridden.json"),
        ("FeedbackRequest", "feedback-overridden-with-reason.json"),
    ],
)
def test_the_spec_examples_conform(kind: str, name: str) -> None:
    """Each valid example of the 2.0.1 text passes."""
    assert KINDS[kind](example(name)) == []


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("service-response-autolaunchable.json", "$.cards[0].indicator: REQUIRED"),
        ("service-response-systemActions.json", "$.systemActions[0].description: REQUIRED"),
    ],
)
def test_the_two_defective_spec_examples_are_caught(name: str, problem: str) -> None:
    """The normative text wins over its examples: both defects are reported."""
    assert problem in KINDS["ServiceResponse"](example(name))


def card(**change: Any) -> dict[str, Any]:
    merged = {**CARD, **change}
    return {"cards": [{k: v for k, v in merged.items() if v is not None}]}


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({}, "$.cards: REQUIRED array"),
        ({"cards": {}}, "$.cards: REQUIRED array"),
        (card(summary=None), "summary: REQUIRED"),
        (card(summary="x" * 140), "140 characters"),
        (card(summary=""), "null or empty"),
        (card(indicator="hard-stop"), "indicator"),
        (card(indicator=None), "indicator: REQUIRED"),
        (card(source=None), "source: REQUIRED"),
        (card(source={"label": "l", "url": "/relative"}), "absolute URL"),
        (card(source={"label": "l", "topic": {"code": "c"}}), "topic.system: REQUIRED"),
        (card(detail=""), "null or empty"),
        (card(uuid=None, links=[]), "null or empty"),
        (card(suggestions=[{"label": "x"}]), "selectionBehavior: REQUIRED"),
        (card(suggestions=[{"label": "x"}], selectionBehavior="all"), "selectionBehavior"),
        (
            card(
                suggestions=[
                    {"label": "a", "isRecommended": True},
                    {"label": "b", "isRecommended": True},
                ],
                selectionBehavior="at-most-one",
            ),
            "several suggestions recommended",
        ),
        (
            card(
                suggestions=[{"label": "a", "actions": [{"type": "create", "description": "d"}]}],
                selectionBehavior="any",
            ),
            "resource: REQUIRED for create",
        ),
        (
            card(
                suggestions=[{"label": "a", "actions": [{"type": "delete", "description": "d"}]}],
                selectionBehavior="any",
            ),
            "resourceId",
        ),
        (card(overrideReasons=[{"code": "c", "system": "s"}]), "display: REQUIRED"),
        (
            card(
                links=[
                    {"label": "l", "url": "https://x.org", "type": "absolute", "appContext": "a"}
                ]
            ),
            "only for links of type smart",
        ),
        (card(links=[{"label": "l", "url": "https://x.org", "type": "iframe"}]), "type"),
        (
            card(
                links=[
                    {"label": "l", "url": "https://x.org", "type": "smart", "autolaunchable": "yes"}
                ]
            ),
            "boolean",
        ),
        (card(extension=[]), "extension: must be an object"),
        ({"cards": [], "systemActions": []}, "null or empty"),
        ({"cards": [CARD], "note": None}, "null or empty"),
    ],
)
def test_service_response_faults_are_reported(document: Any, problem: str) -> None:
    """Each rule of "CDS Service Response" and "Card Attributes" is checked."""
    problems = KINDS["ServiceResponse"](document)
    assert any(problem in p for p in problems), problems


def test_an_empty_card_list_is_allowed() -> None:
    """`{"cards": []}` is the specified answer when there is no guidance."""
    assert KINDS["ServiceResponse"]({"cards": []}) == []


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({}, "$.services: REQUIRED array"),
        ({"services": [{"hook": "patient-view", "id": "x"}]}, "description: REQUIRED"),
        ({"services": [{"hook": "patient-view", "description": "d", "id": ""}]}, "null or empty"),
        ({"services": [{"hook": "h", "description": "d", "id": "a/b"}]}, "must not hold '/'"),
        (
            {"services": [{"hook": "h", "description": "d", "id": "x", "prefetch": {}}]},
            "null or empty",
        ),
        (
            {"services": [{"hook": "h", "description": "d", "id": "x", "prefetch": {"p": 1}}]},
            "string template",
        ),
        (
            {"services": [{"hook": "h", "description": "d", "id": "x"}] * 2},
            "repeat an earlier service",
        ),
    ],
)
def test_discovery_faults_are_reported(document: Any, problem: str) -> None:
    """Each rule of "Discovery / Response" is checked."""
    problems = KINDS["DiscoveryResponse"](document)
    assert any(problem in p for p in problems), problems


def test_an_empty_service_list_is_allowed() -> None:
    """A server with no services answers `{"services": []}`."""
    assert KINDS["DiscoveryResponse"]({"services": []}) == []


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (
            {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2021-12-11T10:05:31Z"},
            "acceptedSuggestions: REQUIRED",
        ),
        (
            {"card": "c", "outcome": "rejected", "outcomeTimestamp": "2021-12-11T10:05:31Z"},
            "outcome",
        ),
        ({"card": "c", "outcome": "overridden", "outcomeTimestamp": "2021-12-11"}, "RFC 3339"),
        (
            {
                "card": "c",
                "outcome": "overridden",
                "outcomeTimestamp": "2021-12-11T10:05:31Z",
                "overrideReason": {},
            },
            "null or empty",
        ),
        ({"outcome": "overridden", "outcomeTimestamp": "2021-12-11T10:05:31Z"}, "card: REQUIRED"),
    ],
)
def test_feedback_faults_are_reported(item: dict[str, Any], problem: str) -> None:
    """Each rule of "Feedback" is checked."""
    problems = KINDS["FeedbackRequest"]({"feedback": [item]})
    assert any(problem in p for p in problems), problems


def test_error_bodies_must_be_operation_outcomes() -> None:
    """An error body that is not an OperationOutcome with diagnostics is reported."""
    assert KINDS["OperationOutcome"]({"error": "x"}) != []
    bare = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid"}]}
    assert KINDS["OperationOutcome"](bare) == ["$.issue[0].diagnostics: REQUIRED non-empty string"]
