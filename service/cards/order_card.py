"""Cards for drafted orders (order-select / order-sign): the engine's verdicts, worded.

A drug that belongs to one of the patient's options gets that option's entry (info, with
its safety and a link to its evidence); a drug that is not indicated here gets a warning
saying why, which the clinician may set aside with a reason.
"""

from __future__ import annotations

from typing import Any

from service import wire
from service.cards.frame import Frame
from service.cards.markdown import bullets
from service.cards.option_card import reason_text
from service.engine.model import OrderVerdict

__all__ = ["order_card"]


def order_card(frame: Frame, verdict: OrderVerdict) -> dict[str, Any]:
    """The card of the engine's verdict on one drafted agent."""
    e = frame.evaluation
    w = frame.words.orders
    name = verdict.agent.capitalize()
    match verdict.reason:
        case "option":
            return _option_entry(frame, verdict)
        case "early-platinum-relapse":
            platinum = e.platinum
            sensitivity = platinum.sensitivity if platinum else None
            summary = w.early_platinum_relapse_summary.format(name=name, sensitivity=sensitivity)
            interval = frame.interval_words(platinum.interval_days if platinum else None)
            if sensitivity == "refractory":  # §7 v3: "progressed during platinum therapy"
                detail = w.refractory_relapse_detail.format(interval=interval)
            else:
                detail = w.early_platinum_relapse_detail.format(
                    interval=interval, sensitive_days=frame.thresholds.sensitive_days
                )
        case "already-given":
            line = e.lines[(verdict.line or 0) - 1]
            summary = w.already_given_summary.format(name=name, line=line.number)
            detail = w.already_given_detail.format(
                name=name, line=line.number, start=frame.day(line.start), end=frame.day(line.end)
            )
        case "no-relapse":
            summary = w.no_relapse_summary.format(name=name)
            detail = w.no_relapse_detail.format(name=name)
        case "not-an-option":
            summary = w.not_an_option_summary.format(name=name, line=e.next_line)
            detail = w.not_an_option_detail.format(name=name, line=e.next_line)
    return frame.card(
        f"order:{verdict.agent}:warning",
        summary=summary,
        detail=detail,
        indicator="warning",
        documents=frame.words.cited.platinum_interval,
        override=True,
    )


def _option_entry(frame: Frame, verdict: OrderVerdict) -> dict[str, Any]:
    """The option's entry for a drafted drug that is one of the patient's options."""
    w = frame.words.orders
    shown = next(o for o in frame.evaluation.options if o.id == verdict.option)
    option = frame.knowledge.option(shown.id)
    figure, study = frame.key_figure(option)
    line = frame.evaluation.next_line
    detail = w.option_detail.format(
        title=option.title,
        line=line,
        status=shown.status,
        reason=reason_text(frame, shown),
        figure=figure,
        study=study,
    )
    if option.safety:
        detail += "\n\n" + bullets(w.safety_title, option.safety)
    return frame.card(
        f"order:{verdict.agent}:info",
        summary=w.option_summary.format(title=option.title, line=line, status=shown.status),
        detail=detail,
        indicator="info",
        documents=[c.document for c in option.citations],
        links=[
            wire.Link(
                label=w.evidence_link.format(title=option.title),
                url=frame.evidence_url(option.id),
                type="absolute",
            )
        ],
    )
