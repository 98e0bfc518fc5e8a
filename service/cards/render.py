"""The cards a hook returns for an evaluation: patient-view, and drafted orders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.cards.checklist import check_items
from service.cards.frame import Frame
from service.cards.option_card import options_card
from service.cards.order_card import order_card
from service.cards.summary import no_therapy_card, summary_card
from service.cards.trial_card import trial_card
from service.engine.model import Evaluation
from service.engine.orders import order_verdicts
from service.engine.rules import TRIAL_ID
from service.knowledge import Knowledge, load_knowledge

__all__ = ["check_the_record", "order_cards", "patient_view_cards"]


def patient_view_cards(
    evaluation: Evaluation, *, base_url: str, knowledge: Knowledge | None = None
) -> list[dict[str, Any]]:
    """The cards `patient-view` returns (CLINICAL_RULES §8–§11): the summary, and at a
    decision point the options card and the trial card; links under `base_url`."""
    e = evaluation
    if not e.diagnosis.sclc or e.patient.deceased:
        return []
    frame = Frame(e, knowledge or load_knowledge(), base_url)
    if not e.lines:
        return [no_therapy_card(frame)]
    cards = [summary_card(frame)]
    if e.options:
        cards.append(options_card(frame))
    cards.extend(
        trial_card(frame, frame.knowledge.trial(t.id)) for t in e.trials if t.id == TRIAL_ID
    )
    return cards


def check_the_record(evaluation: Evaluation, *, knowledge: Knowledge | None = None) -> list[str]:
    """The items the summary card lists under "Check the record" (§11), as its markdown."""
    knowledge = knowledge or load_knowledge()
    return check_items(evaluation.record_issues, knowledge)


def order_cards(
    evaluation: Evaluation,
    agents: Sequence[str],
    *,
    base_url: str,
    knowledge: Knowledge | None = None,
) -> list[dict[str, Any]]:
    """Cards for drafted orders of these agents (order-select / order-sign): a drug that
    is one of the patient's options gets its entry (info); a relapse drug outside a
    decision point, a drug already received, or platinum after a refractory or resistant
    relapse gets a warning saying why; other drugs get nothing. The disclaimer once."""
    verdicts = order_verdicts(evaluation, agents)
    if not verdicts:
        return []
    frame = Frame(evaluation, knowledge or load_knowledge(), base_url)
    cards = [order_card(frame, verdict) for verdict in verdicts]
    cards[0]["detail"] = f"{cards[0]['detail']}\n\n{frame.words.card.disclaimer}"
    return cards
