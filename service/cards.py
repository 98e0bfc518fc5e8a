"""Turn an evaluation into CDS Hooks cards, using the knowledge base in `cards/`.

Interim: the card builders land in the next commit; the service wiring calls these two
functions and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.engine.model import Evaluation

__all__ = ["order_cards", "patient_view_cards"]


def patient_view_cards(evaluation: Evaluation) -> list[dict[str, Any]]:
    """The cards `patient-view` returns for this evaluation."""
    del evaluation
    return []


def order_cards(evaluation: Evaluation, agents: Sequence[str]) -> list[dict[str, Any]]:
    """The cards `order-select` / `order-sign` return when these agents are drafted."""
    del evaluation, agents
    return []
