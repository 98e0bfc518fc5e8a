"""Turn an evaluation into CDS Hooks 2.0 cards, using the knowledge base in `cards/`.

Pure: takes an `Evaluation` (and the drafted agents for order hooks) and returns card
JSON objects; no Flask, no I/O beyond the packaged knowledge read once. Every card is
information for a clinician, cites its source document, carries a `uuid` derived from
the evaluation (the same evaluation gives the same uuids, so feedback can refer to
them), and leaves out every empty string, list or object. Text that comes from the
record (resource ids, drug names in warnings) is escaped, because EHRs such as the
public sandbox render `detail` markdown with raw HTML enabled.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Literal

from service import wire
from service.engine.model import Evaluation, Line, Platinum
from service.engine.rules import DEFAULT_THRESHOLDS, TRIAL_ID, Thresholds
from service.knowledge import Citation, Knowledge, Option, Trial, load_knowledge

__all__ = ["SUMMARY_LIMIT", "check_the_record", "order_cards", "patient_view_cards"]

Indicator = Literal["info", "warning", "critical"]

SUMMARY_LIMIT = 140  # CDS Hooks 2.0: summary "<140-character"
_NAMESPACE = uuid.UUID("7b0d2b4e-5d1c-4c69-9d43-2f1e6a7c8e90")  # this product's cards
OVERRIDE_SYSTEM = "urn:sclc-relapse-cds:override-reason"
# Reasons a clinician may give for setting an option card aside (CDS Hooks overrideReasons).
OVERRIDE_REASONS = (
    ("other-plan", "Another treatment is already planned"),
    ("not-suitable", "Not suitable for this patient"),
    ("patient-declined", "Patient declined"),
    ("not-available", "Not available here"),
    ("data-incomplete", "Record incomplete or out of date"),
)
DISCLAIMER = (
    "_Decision support for the treating clinician, not an order. "
    "Check the record and the sources before acting._"
)
# Agents of each drug option, as drafted in an order (order-select / order-sign).
PLATINUM_AGENTS = frozenset({"carboplatin", "cisplatin"})
_ORDER_OPTIONS = {
    "topotecan": "topotecan",
    "lurbinectedin": "lurbinectedin",
    "amrubicin": "amrubicin",
    "nab-paclitaxel": "nab-paclitaxel-anlotinib",
    "anlotinib": "anlotinib",
}
TARLATAMAB = "tarlatamab"
# Where the platinum sensitivity cut-offs come from (CLINICAL_RULES §7).
_SENSITIVITY_DOCUMENTS = ("000_e1d9681268751f05.txt", "003_4cac35924055ddfc.txt")
# First-line therapy context for the "no systemic therapy" card (§8).
_FIRST_LINE_DOCUMENT = "002_7502c6c1fab9d4d0.txt"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_RESULT_MARK = {"met": "met", "not-met": "**not met**", "unknown": "unknown"}


def escape(text: str) -> str:
    """Record text made inert for markdown rendered with raw HTML.

    `<`, `>` and `&` become entities; quotes stay as they are (they are not markup
    outside an attribute, and an entity such as `&#x27;` would be broken by the
    markdown escaping that follows).
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _shown_day(value: date | None) -> str:
    return value.isoformat() if value else "unknown date"


def _fingerprint(evaluation: Evaluation) -> str:
    body = json.dumps(evaluation.to_json(), sort_keys=True, default=str)
    return hashlib.sha256(f"{evaluation.today}|{body}".encode()).hexdigest()


def _shorten(text: str) -> str:
    if len(text) < SUMMARY_LIMIT:
        return text
    return text[: SUMMARY_LIMIT - 2].rstrip() + "…"


def _citations(knowledge: Knowledge) -> dict[str, Citation]:
    """One citation per document: the shortest label any card gives it."""
    found: dict[str, Citation] = {}
    for citation in (c for o in knowledge.options for c in o.citations):
        best = found.get(citation.document)
        if best is None or len(citation.label) < len(best.label):
            found[citation.document] = citation
    for trial in knowledge.trials:
        for citation in trial.citations:
            found.setdefault(citation.document, citation)
    return found


def _source(citations: Sequence[Citation]) -> wire.Source:
    first = citations[0]
    label = (
        first.label
        if len(citations) == 1
        else "; ".join(dict.fromkeys(c.label.split(" (")[0] for c in citations))
    )
    return wire.Source(label=label, url=next((c.url for c in citations if c.url), None))


def _bullets(title: str, items: Iterable[str]) -> str:
    return f"**{title}**\n\n" + "\n".join(f"- {item}" for item in items)


def _option_body(option: Option, *, notes: bool, line: int | None = None) -> list[str]:
    """Regimen, evidence (for the line when given), safety, availability (and notes)."""
    evidence = option.evidence_for(line) if line is not None else option.evidence
    sections = [
        f"**Regimen:** {option.regimen}",
        _bullets("Evidence", (item.text for item in evidence)),
    ]
    if option.safety:
        sections.append(_bullets("Safety", option.safety))
    if option.availability:
        sections.append(f"**Availability:** {option.availability}")
    if notes and option.notes:
        sections.append(_bullets("Notes", option.notes))
    return sections


def _sources_section(citations: Iterable[Citation]) -> str:
    return _bullets("Sources", (f"{c.label} (`{c.document}`)" for c in citations))


class _CardMaker:
    """Builds the cards of one evaluation, with uuids stable for that evaluation."""

    def __init__(self, evaluation: Evaluation, knowledge: Knowledge) -> None:
        self.evaluation = evaluation
        self.knowledge = knowledge
        self.citations = _citations(knowledge)
        self.fingerprint = _fingerprint(evaluation)

    def card(
        self,
        key: str,
        *,
        summary: str,
        detail: str,
        indicator: Indicator,
        citations: Sequence[Citation],
        override: bool = False,
        links: Sequence[wire.Link] = (),
    ) -> dict[str, Any]:
        """A card built (and so checked) by the wire model, as JSON."""
        return wire.Card(
            uuid=str(uuid.uuid5(_NAMESPACE, f"{self.fingerprint}|{key}")),
            summary=_shorten(summary),
            detail=f"{detail}\n\n{_sources_section(citations)}\n\n{DISCLAIMER}",
            indicator=indicator,
            source=_source(citations),
            overrideReasons=(
                [
                    wire.Coding(system=OVERRIDE_SYSTEM, code=code, display=display)
                    for code, display in OVERRIDE_REASONS
                ]
                if override
                else None
            ),
            links=list(links) or None,
        ).dump()

    def documents(self, *names: str) -> list[Citation]:
        return [self.citations[n] for n in names if n in self.citations]

    # --- patient-view -----------------------------------------------------------------

    def summary_card(self) -> dict[str, Any]:
        """§11: where the patient stands, the interval, the patient, and what to check."""
        e = self.evaluation
        stage = e.diagnosis.stage or "unknown"
        count = len(e.lines)
        parts = [f"SCLC, {stage} stage: {count} line{'s' if count != 1 else ''}"]
        parts.append(self._standing_short())
        if e.platinum and e.platinum.sensitivity:
            parts.append(self._interval_short(e.platinum))
        check = self._check_items()
        sections = [
            f"**Where the patient stands:** {self._standing_long()}",
            self._diagnosis_text(),
            "**Lines of therapy**\n\n" + "\n".join(self._line_text(line) for line in e.lines),
            self._progression_text(),
            self._platinum_text(e.platinum),
            self._patient_text(),
        ]
        if check:
            sections.append(_bullets("Check the record", check))
        return self.card(
            "summary",
            summary="; ".join(parts),
            detail="\n\n".join(s for s in sections if s),
            indicator="warning" if check else "info",
            citations=self.documents(*_SENSITIVITY_DOCUMENTS),
        )

    def no_therapy_card(self) -> dict[str, Any]:
        e = self.evaluation
        detail = (
            f"{self._diagnosis_text()}\n\nNo systemic anticancer therapy for SCLC is recorded "
            "(MedicationStatement, MedicationRequest or MedicationAdministration). Relapse "
            "options are shown once a first line and a progression are on record; first-line "
            "treatment choice is outside what this service covers."
        )
        check = self._check_items()
        if check:
            detail += "\n\n" + _bullets("Check the record", check)
        return self.card(
            "no-therapy",
            summary=f"SCLC, {e.diagnosis.stage or 'unknown'} stage: no systemic therapy recorded",
            detail=detail,
            indicator="warning" if check else "info",
            citations=self.documents(_FIRST_LINE_DOCUMENT),
        )

    def option_card(self, option: Option, status: str) -> dict[str, Any]:
        e = self.evaluation
        label = "Recommended" if status == "recommended" else "To consider"
        sections = [
            f"**{label} for line {e.next_line}.** {self._why(option.id, status)}",
            *_option_body(option, notes=True, line=e.next_line),
        ]
        if option.population:
            sections.append(f"**Study population:** {option.population}")
        population = e.notes_for(option.id)
        if population:
            heading = "This patient and the study population"
            sections.append(_bullets(heading, (escape(n) for n in population)))
        return self.card(
            f"option:{option.id}",
            summary=f"Line {e.next_line} option ({status}): {option.title}",
            detail="\n\n".join(sections),
            indicator="info",
            citations=option.citations,
            override=True,
        )

    def trial_card(self, trial: Trial) -> dict[str, Any]:
        e = self.evaluation
        result = next(t for t in e.trials if t.id == trial.nct_id)
        verdict = result.verdict.replace("-", " ")
        descriptions = {c.criterion: c.description for c in trial.criteria}
        rows = "\n".join(
            f"| {descriptions.get(c.criterion, c.criterion)} | {_RESULT_MARK[c.result]}"
            + (f" ({escape(c.detail)})" if c.detail and c.result != "met" else "")
            + " |"
            for c in result.criteria
        )
        sections = [
            f"**Pre-screen: {verdict}** (from the record; the study team decides eligibility).",
            f"**{trial.title}** ({trial.phase}, {trial.status} as of the listing, "
            f"{trial.participants} participants, start {trial.start}).",
            f"**Regimen:** {trial.regimen}",
            f"| Criterion | From the record |\n|---|---|\n{rows}",
        ]
        if trial.not_prescreened:
            sections.append(_bullets("Not checked from the record", trial.not_prescreened))
        return self.card(
            f"trial:{trial.nct_id}",
            summary=f"Trial {trial.nct_id} (lomustine + anlotinib, {trial.phase}): {verdict}",
            detail="\n\n".join(sections),
            indicator="info",
            citations=trial.citations,
            links=[
                wire.Link(
                    label=f"{trial.nct_id} on ClinicalTrials.gov", url=trial.url, type="absolute"
                )
            ],
        )

    # --- order-select / order-sign ----------------------------------------------------

    def platinum_warning(self, agent: str) -> dict[str, Any]:
        platinum = self.evaluation.platinum
        interval = platinum.interval_days if platinum else None
        sensitivity = platinum.sensitivity if platinum else "unknown"
        rechallenge = self.knowledge.option("platinum-rechallenge")
        t = self.thresholds
        detail = (
            f"{agent.capitalize()} is being ordered for a patient whose last platinum-based "
            f"line was followed by {_interval_words(interval)} ({sensitivity}). Relapse "
            f"within {t.sensitive_days} days of platinum predicts a low response to further "
            "chemotherapy, and re-treatment with platinum is described for sensitive "
            f"relapse ({t.rechallenge_window_days} days or more).\n\n"
            + _bullets("Evidence", (item.text for item in rechallenge.evidence))
        )
        return self.card(
            f"order:platinum:{agent}",
            summary=f"{agent.capitalize()} re-treatment: platinum-{sensitivity} relapse "
            f"({_interval_words(interval)})",
            detail=detail,
            indicator="warning",
            citations=self.documents(*_SENSITIVITY_DOCUMENTS),
            override=True,
        )

    def drafted_option(self, option: Option, agent: str) -> dict[str, Any]:
        shown = {o.id: o.status for o in self.evaluation.options}
        context = (
            f"This service lists it for line {self.evaluation.next_line} ({shown[option.id]})."
            if option.id in shown
            else "It is not among the options this service lists for the patient now."
        )
        sections = [
            f"**{option.title}** is being ordered. {context}",
            *_option_body(option, notes=False),
        ]
        return self.card(
            f"order:option:{option.id}:{agent}",
            summary=f"{option.title}: evidence for relapsed SCLC",
            detail="\n\n".join(sections),
            indicator="info",
            citations=option.citations,
        )

    def tarlatamab_monitoring(self) -> dict[str, Any]:
        option = self.knowledge.option("tarlatamab")
        detail = (
            "Tarlatamab is being ordered. Plan the monitoring the source describes.\n\n"
            + _bullets("Safety", option.safety)
        )
        if self.evaluation.diagnosis.stage == "limited":
            detail += (
                "\n\nThe record gives **limited stage**; the source describes tarlatamab "
                "for extensive stage."
            )
        return self.card(
            "order:tarlatamab-monitoring",
            summary="Tarlatamab: monitor for cytokine release syndrome and neurotoxicity",
            detail=detail,
            indicator="warning",
            citations=option.citations,
        )

    # --- text pieces ------------------------------------------------------------------

    @property
    def thresholds(self) -> Thresholds:
        return self.evaluation.thresholds or DEFAULT_THRESHOLDS

    def _standing_short(self) -> str:
        e = self.evaluation
        latest = e.lines[-1] if e.lines else None
        if e.next_line is not None and latest is not None:
            return f"progressed after line {latest.number}, line {e.next_line} decision"
        if latest is None:
            return "no therapy recorded"
        if latest.ongoing:
            return f"line {latest.number} ongoing"
        return f"line {latest.number} ended {_shown_day(latest.end)}"

    def _interval_short(self, platinum: Platinum) -> str:
        """The headline's interval: both definitions where they differ (§7)."""
        if platinum.interval_days is None:
            return f"platinum interval {platinum.sensitivity}"
        est = " est." if platinum.estimated else ""
        days = platinum.interval_days
        if days <= 0:
            return f"platinum-refractory (progression {-days} d before the last dose{est})"
        text = f"platinum-free {days} d{est}: {platinum.sensitivity}"
        if self._definitions_differ(platinum):
            text += f"; resistant by ANNAB's {self.thresholds.annab_resistant_days} d"
        return text

    def _definitions_differ(self, platinum: Platinum) -> bool:
        days = platinum.interval_days
        return (
            platinum.sensitivity == "sensitive"
            and days is not None
            and days < self.thresholds.annab_resistant_days
        )

    def _standing_long(self) -> str:
        e = self.evaluation
        latest = e.lines[-1]
        if e.next_line is not None:
            p = e.progression
            if p and p.date and p.proxy:
                when = (
                    f"estimated from the start of line {latest.number} on {_shown_day(p.date)} "
                    "(no dated progression is recorded)"
                )
                after = f"line {latest.number - 1}" if latest.number > 1 else "the first line"
                return (
                    f"progression after {after}, {when}: a decision point for "
                    f"**line {e.next_line}**."
                )
            if p and p.date:
                est = " (estimated from a partial date)" if p.estimated else ""
                when = f"on {_shown_day(p.date)}{est}"
            else:
                when = "recorded without a usable date"
            return (
                f"progression {when} after line {latest.number} started: a decision point "
                f"for **line {e.next_line}**. The options and the trial pre-screen follow "
                "as separate cards."
            )
        if e.patient.deceased:
            return "the record says the patient has died; no options are shown."
        if latest.ongoing:
            return (
                f"line {latest.number} is ongoing (started {_shown_day(latest.start)}, last dose "
                f"{_shown_day(latest.end)}); no progression after its start is recorded."
            )
        return (
            f"line {latest.number} ended on {_shown_day(latest.end)}; no progression after its "
            "start is recorded, so no relapse options are shown."
        )

    def _diagnosis_text(self) -> str:
        d = self.evaluation.diagnosis
        text = (
            f"**Diagnosis:** small-cell lung cancer, {d.stage or 'unknown'} stage, "
            f"diagnosed {_shown_day(d.diagnosed)}"
        )
        if d.stage in ("limited", "extensive") and d.stage_condition:
            when = "staged at relapse" if d.staged_at_relapse else "not restaged at relapse"
            text += f" ({when}: {escape(d.stage_condition)}, {_shown_day(d.stage_date)})"
        if d.clinical_status:
            text += f"; clinical status {escape(d.clinical_status)}"
        return text + "."

    @staticmethod
    def _line_text(line: Line) -> str:
        text = f"- **Line {line.number}** ({_shown_day(line.start)} to {_shown_day(line.end)}"
        text += ", ongoing)" if line.ongoing else ")"
        text += f": {', '.join(line.agents)}"
        if line.maintenance_agents:
            text += f"; maintenance: {', '.join(line.maintenance_agents)}"
        return text

    def _progression_text(self) -> str | None:
        p = self.evaluation.progression
        if p is None:
            return None
        if p.date is None:
            return f"**Latest progression:** a relapse without a usable date ({escape(p.source)})."
        if p.proxy:
            how = "estimated: the start of the next line stands in"
        elif p.estimated:
            how = "estimated from a partial date"
        else:
            how = "recorded"
        return f"**Latest progression:** {_shown_day(p.date)} ({escape(p.source)}; {how})."

    def _platinum_text(self, platinum: Platinum | None) -> str:
        t = self.thresholds
        if platinum is None:
            return "**Platinum:** no platinum-containing line is recorded."
        text = f"**Platinum:** last dose {_shown_day(platinum.last_dose)}"
        days = platinum.interval_days
        if days is not None:
            on = "progression (estimated) on" if platinum.estimated else "progression on"
            text += f"; {on} {_shown_day(platinum.progression_date)}: "
            if days <= 0:
                text += f"{_interval_words(days)}: **refractory**"
            else:
                text += f"platinum-free interval of **{days} days**: **{platinum.sensitivity}**"
                if self._definitions_differ(platinum):
                    text += (
                        f" by the {t.sensitive_days}-day definition; **resistant** by the "
                        f"{t.annab_resistant_days}-day definition of the ANNAB study"
                    )
                elif platinum.sensitivity == "resistant":
                    text += f" (under {t.sensitive_days} days)"
                if platinum.rechallenge_window:
                    text += f" ({t.rechallenge_window_days} days or more: re-challenge window)"
            if platinum.estimated:
                text += ". The interval is estimated (see the progression date above)"
        elif platinum.sensitivity == "unknown":
            text += "; a relapse is recorded without a usable date, so the interval is unknown"
        else:
            text += f"; no progression since ({platinum.days_since_last_platinum} days ago)"
        return text + "."

    def _patient_text(self) -> str:
        e = self.evaluation
        t = self.thresholds
        age = "unknown" if e.patient.age is None else str(e.patient.age)
        if e.patient.age_estimated:
            age += " (estimated: partial birth date)"
        items = [f"Age {age}"]
        for reading in e.readings:
            items.append(
                escape(reading.describe())
                + ("" if reading.fresh else f" (older than {t.observation_max_age_days} days)")
            )
        if not e.readings:
            items.append("No ECOG or laboratory values in the record")
        text = _bullets("The patient", items)
        if e.poor_performance is not None:
            text += (
                f"\n\n**Performance status:** {escape(e.poor_performance.describe())}: nothing "
                "is marked recommended. Performance status is an essential consideration, and "
                "the studies behind these options enrolled ECOG 0–1."
            )
        return text

    def _why(self, option_id: str, status: str) -> str:
        e = self.evaluation
        p = e.platinum
        t = self.thresholds
        if option_id == "platinum-rechallenge" and p is not None and p.interval_days is not None:
            text = f"Platinum-free interval {p.interval_days} days" + (
                " (estimated)" if p.estimated else ""
            )
            if p.rechallenge_window:
                text += f", {t.rechallenge_window_days} days or more"
                if status != "recommended":
                    text += (
                        "; the re-treatment evidence is from second-line studies"
                        if (e.next_line or 0) > 2
                        else "; performance status keeps it from being recommended"
                    )
            else:
                text += (
                    f": sensitive by the {t.sensitive_days}-day definition, resistant by the "
                    f"{t.annab_resistant_days}-day definition of the ANNAB study"
                )
            return text + "."
        if option_id in ("topotecan", "lurbinectedin", "tarlatamab", "taxane") and p is not None:
            return "Relapse after a platinum-containing line."
        if option_id == "nab-paclitaxel-anlotinib":
            return "Second line after platinum chemo-immunotherapy, no anti-angiogenic drug so far."
        if option_id == "anlotinib":
            which = "Second line" if e.next_line == 2 else "Third line or later"
            return f"{which} after a platinum-containing line, no anlotinib so far."
        return "Shown at every relapse decision point."

    def _check_items(self) -> list[str]:
        """§11 "Check the record": every item names the FHIR record it is about."""
        e = self.evaluation
        items = [escape(w) for w in e.warnings]
        for withheld in e.withheld:
            sources = ", ".join(escape(s) for s in withheld.sources)
            title = self.knowledge.option(withheld.option).title
            items.append(
                f"{title} is not shown while {sources} cannot be read (it may show the drug "
                "was given)"
            )
        p = e.progression
        if p is not None and p.proxy and p.date is not None:
            items.append(
                f"The progression date {_shown_day(p.date)} is estimated from the start of the "
                f"next line ({escape(p.source)}): no dated progression is recorded."
            )
        if e.relapse_undated and p is not None:
            items.append(f"A relapse is recorded without a usable date ({escape(p.source)}).")
        if e.possibly_received and e.next_line is not None:
            sources = ", ".join(escape(p.source) for p in e.possibly_received)
            items.append(
                f"{sources}: not placed in a line; if a line of its own, line {e.next_line} "
                "is too low."
            )
        return items


def _interval_words(days: int | None) -> str:
    """An interval in words: "84 days after the last platinum dose", never "-6 d"."""
    if days is None:
        return "an interval that is unknown"
    if days < 0:
        return f"progression {-days} days before the last platinum dose"
    if days == 0:
        return "progression on the day of the last platinum dose"
    return f"progression {days} days after the last platinum dose"


def patient_view_cards(
    evaluation: Evaluation, *, knowledge: Knowledge | None = None
) -> list[dict[str, Any]]:
    """The cards `patient-view` returns for this evaluation (CLINICAL_RULES §8–§10)."""
    e = evaluation
    if not e.diagnosis.sclc or e.patient.deceased:
        return []
    maker = _CardMaker(e, knowledge or load_knowledge())
    if not e.lines:
        return [maker.no_therapy_card()]
    cards = [maker.summary_card()]
    cards.extend(maker.option_card(maker.knowledge.option(o.id), o.status) for o in e.options)
    cards.extend(
        maker.trial_card(maker.knowledge.trial(t.id)) for t in e.trials if t.id == TRIAL_ID
    )
    return cards


def check_the_record(evaluation: Evaluation, *, knowledge: Knowledge | None = None) -> list[str]:
    """The items the summary card lists under "Check the record" (§11), as its markdown."""
    return _CardMaker(evaluation, knowledge or load_knowledge())._check_items()


def order_cards(
    evaluation: Evaluation, agents: Sequence[str], *, knowledge: Knowledge | None = None
) -> list[dict[str, Any]]:
    """Cards for drafted orders of these agents (order-select / order-sign)."""
    e = evaluation
    if not e.diagnosis.sclc or e.patient.deceased:
        return []
    maker = _CardMaker(e, knowledge or load_knowledge())
    cards: list[dict[str, Any]] = []
    for agent in dict.fromkeys(agents):
        if agent in PLATINUM_AGENTS:
            if e.platinum and e.platinum.sensitivity in ("refractory", "resistant"):
                cards.append(maker.platinum_warning(agent))
        elif agent == TARLATAMAB:
            cards.append(maker.tarlatamab_monitoring())
        elif agent in _ORDER_OPTIONS:
            cards.append(maker.drafted_option(maker.knowledge.option(_ORDER_OPTIONS[agent]), agent))
    return cards
