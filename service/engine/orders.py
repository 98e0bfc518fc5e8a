"""Drafted orders (order-select / order-sign): what ordering an agent means here.

A drafted relapse drug (an agent of a §9 drug option) or a platinum agent of the
re-challenge regimen gets a verdict: the patient's option it belongs to, with that
option's status, or "not-indicated" and why. Other drugs (etoposide alone, supportive
and non-cancer drugs) get none, nor does a patient without SCLC or one who has died (§2).
"""

from __future__ import annotations

from collections.abc import Iterable

from service.engine.catalogue import Catalogue, load_catalogue
from service.engine.model import Evaluation, OptionResult, OrderVerdict
from service.engine.options import OPTION_AGENTS, RELAPSE_AGENTS

__all__ = ["order_verdicts", "platinum_agents"]

RECHALLENGE = "platinum-rechallenge"


def platinum_agents(catalogue: Catalogue) -> frozenset[str]:
    """The platinum agents of the re-challenge regimen (§9), by the catalogue's class."""
    return frozenset(a for a in OPTION_AGENTS[RECHALLENGE] if catalogue.agent(a).is_platinum)


def _chosen(agent: str, option: OptionResult) -> OrderVerdict:
    return OrderVerdict(agent=agent, status=option.status, reason="option", option=option.id)


def _platinum(e: Evaluation, agent: str) -> OrderVerdict | None:
    if e.next_line is None or e.platinum is None:
        return None
    # §7: platinum again after a refractory or resistant relapse is expected to respond poorly.
    if e.platinum.sensitivity in ("refractory", "resistant"):
        return OrderVerdict(agent=agent, status="not-indicated", reason="early-platinum-relapse")
    option = next((o for o in e.options if o.id == RECHALLENGE), None)
    return _chosen(agent, option) if option else None


def _relapse_drug(e: Evaluation, agent: str) -> OrderVerdict:
    given = next((line for line in e.lines if agent in line.agents), None)
    if given is not None:  # §9: re-treatment is only ever the platinum re-challenge
        return OrderVerdict(
            agent=agent, status="not-indicated", reason="already-given", line=given.number
        )
    if e.next_line is None:
        return OrderVerdict(agent=agent, status="not-indicated", reason="no-relapse")
    option = next((o for o in e.options if agent in OPTION_AGENTS.get(o.id, ())), None)
    if option is None:
        return OrderVerdict(agent=agent, status="not-indicated", reason="not-an-option")
    return _chosen(agent, option)


def order_verdicts(
    evaluation: Evaluation, agents: Iterable[str], *, catalogue: Catalogue | None = None
) -> tuple[OrderVerdict, ...]:
    """A verdict for each drafted agent (once, in order) that gets one."""
    e = evaluation
    if not e.diagnosis.sclc or e.patient.deceased:
        return ()
    platinum = platinum_agents(catalogue or load_catalogue())
    verdicts: list[OrderVerdict] = []
    for agent in dict.fromkeys(agents):
        if agent in platinum:
            verdict = _platinum(e, agent)
        elif agent in RELAPSE_AGENTS:
            verdict = _relapse_drug(e, agent)
        else:
            continue  # etoposide alone, a supportive or a non-cancer drug
        if verdict is not None:
            verdicts.append(verdict)
    return tuple(verdicts)
