"""Turn an evaluation into CDS Hooks 2.0 cards, using the knowledge base in `cards/`.

Pure: takes an `Evaluation` (and the drafted agents for order hooks) and returns card
JSON objects built by the wire model; no Flask, no I/O beyond the packaged knowledge
read once. A clinician reads them between patients, so (issue 10):

- `patient-view` gives at most three cards: the summary (CLINICAL_RULES §11, with a
  `smart` link that opens the relapse timeline), at a decision point one options card
  (ranked, one or two lines an option, each with its key figure, its source and a link
  to the full evidence), and the trial card when §10 shows the trial;
- the disclaimer appears once per response; no internal file name appears anywhere;
- every card's `source` is the short label of its document with the URL of the
  service's own page about it (`/sources/<id>`); full evidence is one click away
  (`/evidence/<option-id>`).

Every card carries a `uuid` derived from the evaluation (the same evaluation gives the
same uuids, so feedback can refer to them). Text that comes from the record is escaped,
because EHRs such as the public sandbox render `detail` markdown with raw HTML enabled.
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
from service.engine.model import (
    Evaluation,
    Line,
    OptionResult,
    OrderVerdict,
    Platinum,
    RecordIssue,
)
from service.engine.orders import order_verdicts
from service.engine.rules import DEFAULT_THRESHOLDS, TRIAL_ID, Thresholds
from service.knowledge import Knowledge, Option, Source, Trial, load_knowledge

__all__ = [
    "SUMMARY_LIMIT",
    "check_item",
    "check_the_record",
    "order_cards",
    "patient_view_cards",
]

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
TIMELINE_LINK = "Open relapse timeline"
TIMELINE_CONTEXT = '{"view": "timeline"}'  # appContext of the smart link (service.smart.views)
# Where the platinum sensitivity cut-offs come from (CLINICAL_RULES §7).
_SENSITIVITY_DOCUMENTS = ("000_e1d9681268751f05.txt", "003_4cac35924055ddfc.txt")
# First-line therapy context for the "no systemic therapy" card (§8).
_FIRST_LINE_DOCUMENT = "002_7502c6c1fab9d4d0.txt"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_RESULT_WORD = {"met": "Met", "not-met": "Not met", "unknown": "Unknown"}


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


def _bullets(title: str, items: Iterable[str]) -> str:
    # A list may follow its heading line directly (CommonMark): one line less a section.
    return f"**{title}**\n" + "\n".join(f"- {item}" for item in items)


class _CardMaker:
    """Builds the cards of one evaluation, with uuids stable for that evaluation."""

    def __init__(self, evaluation: Evaluation, knowledge: Knowledge, base_url: str) -> None:
        self.evaluation = evaluation
        self.knowledge = knowledge
        self.base = base_url.rstrip("/")
        self.sources: dict[str, Source] = {s.document: s for s in knowledge.sources}
        self.fingerprint = _fingerprint(evaluation)

    def card(
        self,
        key: str,
        *,
        summary: str,
        detail: str,
        indicator: Indicator,
        documents: Sequence[str],
        override: bool = False,
        links: Sequence[wire.Link] = (),
        disclaimer: bool = False,
    ) -> dict[str, Any]:
        """A card built (and so checked) by the wire model, as JSON."""
        return wire.Card(
            uuid=str(uuid.uuid5(_NAMESPACE, f"{self.fingerprint}|{key}")),
            summary=_shorten(summary),
            detail=f"{detail}\n\n{DISCLAIMER}" if disclaimer else detail,
            indicator=indicator,
            source=self.source(documents),
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

    def source(self, documents: Sequence[str]) -> wire.Source:
        """The short label of the card's document(s) and the service's page about it."""
        found = [self.sources[d] for d in dict.fromkeys(documents) if d in self.sources]
        if len(found) == 1:
            return wire.Source(label=found[0].short_label, url=self.source_url(found[0]))
        label = "; ".join(s.short_label for s in found) if found else "Source documents"
        if len(label) > 80:
            label = "Source documents"
        return wire.Source(label=label, url=f"{self.base}/sources")

    def source_url(self, source: Source) -> str:
        return f"{self.base}/sources/{source.id}"

    def evidence_url(self, option_id: str) -> str:
        return f"{self.base}/evidence/{option_id}"

    def short_label(self, document: str) -> str:
        found = self.sources.get(document)
        return found.short_label if found else "source document"

    # --- patient-view -----------------------------------------------------------------

    def timeline_link(self) -> wire.Link:
        """The smart link that opens the relapse timeline (SMART App Launch)."""
        return wire.Link(
            label=TIMELINE_LINK,
            url=f"{self.base}/app/launch",
            type="smart",
            appContext=TIMELINE_CONTEXT,
        )

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
            _bullets("Lines of therapy", (self._line_text(line)[2:] for line in e.lines)),
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
            documents=_SENSITIVITY_DOCUMENTS,
            links=[self.timeline_link()],
            disclaimer=True,
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
            documents=(_FIRST_LINE_DOCUMENT,),
            links=[self.timeline_link()],
            disclaimer=True,
        )

    def key_figure(self, option: Option) -> tuple[str, str]:
        """The option's key figure for this line, and the document it comes from."""
        later = (self.evaluation.next_line or 0) >= 3 and option.key_figure_later
        return (
            (option.key_figure_later or "", option.key_figure_document)
            if later
            else (
                option.key_figure,
                option.key_figure_document,
            )
        )

    def option_line(self, number: int, shown: OptionResult) -> str:
        """One ranked entry: name, status, why, key figure with source, evidence link."""
        option = self.knowledge.option(shown.id)
        status = shown.status
        figure, document = self.key_figure(option)
        why = self._why(shown)
        text = (
            f"{number}. **{option.title}**: {status}. {why + ' ' if why else ''}"
            f"{figure} ({self.short_label(document)}). "
            f"[Full evidence]({self.evidence_url(option.id)})"
        )
        notes = self.evaluation.notes_for(option.id)
        if notes:
            text += "  \n   Study population: " + "; ".join(escape(n) for n in notes) + "."
        return text

    def options_card(self) -> dict[str, Any]:
        """At a decision point: every shown option of §9, ranked, in one card."""
        e = self.evaluation
        ranked = [(self.knowledge.option(o.id), o.status) for o in e.options]
        entries = [self.option_line(i, shown) for i, shown in enumerate(e.options, start=1)]
        top_title, top_status = ranked[0][0].title, ranked[0][1]
        summary = f"Line {e.next_line} options: {top_title} ({top_status})"
        if len(ranked) > 1:
            summary += f" and {len(ranked) - 1} more to consider"
        documents = [d for option, _ in ranked for d in (c.document for c in option.citations)]
        detail = (
            f"**Line {e.next_line}** options of the source documents, recommended first:"
            "\n\n" + "\n".join(entries)
        )
        return self.card(
            "options",
            summary=summary,
            detail=detail,
            indicator="info",
            documents=documents,
            override=True,
            links=[
                wire.Link(
                    label=f"Evidence for every line-{e.next_line} option",
                    url=f"{self.base}/evidence",
                    type="absolute",
                )
            ],
        )

    def trial_card(self, trial: Trial) -> dict[str, Any]:
        e = self.evaluation
        result = next(t for t in e.trials if t.id == trial.nct_id)
        verdict = result.verdict.replace("-", " ")
        groups: dict[str, list[str]] = {"not-met": [], "unknown": [], "met": []}
        absent: list[str] = []
        for c in result.criteria:
            if c.result == "unknown" and (c.detail or "").endswith(": not in the record"):
                absent.append(escape(c.criterion))  # said once for all below
                continue
            shown = escape(c.criterion)
            if c.detail and c.result != "met":
                shown += f" ({escape(c.detail)})"
            groups[c.result].append(shown)
        if absent:
            groups["unknown"].append("not in the record: " + ", ".join(absent))
        rows = [
            f"- **{_RESULT_WORD[result_]}:** " + "; ".join(items)
            for result_, items in groups.items()
            if items
        ]
        detail = (
            f"**Pre-screen: {verdict}** (from the record; the study team decides "
            "eligibility).\n\n" + "\n".join(rows)
        )
        return self.card(
            f"trial:{trial.nct_id}",
            summary=f"Trial {trial.nct_id} (lomustine + anlotinib, {trial.phase}): {verdict}",
            detail=detail,
            indicator="info",
            documents=[c.document for c in trial.citations],
            links=[
                wire.Link(
                    label=f"{trial.nct_id} on ClinicalTrials.gov", url=trial.url, type="absolute"
                )
            ],
        )

    # --- order-select / order-sign ----------------------------------------------------

    def order_card(
        self, agent: str, *, indicator: Indicator, summary: str, detail: str, option: Option | None
    ) -> dict[str, Any]:
        documents = (
            [c.document for c in option.citations] if option else list(_SENSITIVITY_DOCUMENTS)
        )
        links = (
            [
                wire.Link(
                    label=f"{option.title}: full evidence",
                    url=self.evidence_url(option.id),
                    type="absolute",
                )
            ]
            if option
            else []
        )
        return self.card(
            f"order:{agent}:{indicator}",
            summary=summary,
            detail=detail,
            indicator=indicator,
            documents=documents,
            override=indicator == "warning",
            links=links,
        )

    def verdict_card(self, verdict: OrderVerdict) -> dict[str, Any]:
        """The card of the engine's verdict on one drafted agent."""
        e = self.evaluation
        agent = verdict.agent
        name = agent.capitalize()
        match verdict.reason:
            case "option":
                shown = next(o for o in e.options if o.id == verdict.option)
                return self.option_entry(agent, shown)
            case "early-platinum-relapse":
                platinum = e.platinum
                sensitivity = platinum.sensitivity if platinum else None
                return self.order_card(
                    agent,
                    indicator="warning",
                    summary=f"{name}: platinum-{sensitivity} relapse",
                    detail=(
                        f"The last platinum line was followed by "
                        f"{_interval_words(platinum.interval_days if platinum else None)}, under "
                        f"{self.thresholds.sensitive_days} days, where re-treatment with "
                        "platinum is expected to respond poorly."
                    ),
                    option=None,
                )
            case "already-given":
                line = e.lines[(verdict.line or 0) - 1]
                return self.order_card(
                    agent,
                    indicator="warning",
                    summary=f"{name} was already given (line {line.number})",
                    detail=(
                        f"{name} is recorded in line {line.number} ({_shown_day(line.start)} "
                        f"to {_shown_day(line.end)}); the source documents describe it for a "
                        "relapse, not for re-treatment."
                    ),
                    option=None,
                )
            case "no-relapse":
                return self.order_card(
                    agent,
                    indicator="warning",
                    summary=f"{name}: no relapse is recorded",
                    detail=(
                        f"{name} is a treatment for relapsed SCLC, and no progression after "
                        "the latest line is recorded."
                    ),
                    option=None,
                )
            case "not-an-option":
                return self.order_card(
                    agent,
                    indicator="warning",
                    summary=f"{name} is not among this patient's line {e.next_line} options",
                    detail=(
                        f"{name} is not among the options the rules give for line "
                        f"{e.next_line} of this patient; the summary card says what the "
                        "record shows."
                    ),
                    option=None,
                )

    def option_entry(self, agent: str, shown: OptionResult) -> dict[str, Any]:
        """The option's entry for a drafted drug that is one of the patient's options."""
        option = self.knowledge.option(shown.id)
        status = shown.status
        figure, document = self.key_figure(option)
        detail = (
            f"**{option.title}** is a line {self.evaluation.next_line} option for this "
            f"patient ({status}). {self._why(shown)} {figure} "
            f"({self.short_label(document)})."
        )
        if option.safety:
            detail += "\n\n" + _bullets("Safety", option.safety)
        return self.order_card(
            agent,
            indicator="info",
            summary=f"{option.title}: line {self.evaluation.next_line} option ({status})",
            detail=detail,
            option=option,
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
        if platinum.annab_resistant:
            text += f"; resistant by ANNAB's {self.thresholds.annab_resistant_days} d"
        return text

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
                when = f"on {_shown_day(p.date)} ({escape(p.source)}){est}"
            else:
                when = "recorded without a usable date"
            return (
                f"progression {when} after line {latest.number} started: a decision point "
                f"for **line {e.next_line}**."
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
        if self.evaluation.next_line is not None and p.date and not p.estimated:
            return None  # "Where the patient stands" names it, with its source
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
                if platinum.annab_resistant:
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
        items = [f"age {age}"]
        # Values of one day together: "ECOG 0, ANC 3.4 x10^9/L on 2026-11-09".
        by_day: dict[tuple[str, bool], list[str]] = {}
        for reading in e.readings:
            shown = reading.describe().rsplit(" on ", 1)[0]
            by_day.setdefault((reading.day.isoformat(), reading.fresh), []).append(shown)
        for (day, fresh), values in by_day.items():
            stale = "" if fresh else f" (older than {t.observation_max_age_days} days)"
            items.append(escape(f"{', '.join(values)} on {day}") + stale)
        if not e.readings:
            items.append("no ECOG or laboratory values in the record")
        text = "**The patient:** " + "; ".join(items) + "."
        if e.poor_performance is not None:
            text += (
                f"\n\n**Performance status:** {escape(e.poor_performance.describe())}: nothing "
                "is marked recommended. Performance status is an essential consideration, and "
                "the studies behind these options enrolled ECOG 0–1."
            )
        return text

    def _why(self, shown: OptionResult) -> str:
        """The engine's reason for showing the option, in words."""
        e = self.evaluation
        p = e.platinum
        t = self.thresholds
        if shown.reason is None:
            return ""
        if shown.reason == "after-platinum":
            # The knowledge base's words for this rule (the `when` of topotecan and
            # lurbinectedin); a longer `when` would not fit the entry's line (§9, issue 10).
            return "Any relapse after a platinum-containing line."
        if shown.reason == "after-chemo-immunotherapy":
            return self.knowledge.option(shown.id).when  # nab-paclitaxel plus anlotinib's
        days = p.interval_days if p else None  # a re-challenge reason comes with one
        text = f"Platinum-free interval {days} days" + (" (estimated)" if p and p.estimated else "")
        match shown.reason:
            case "sensitive-below-window":
                text += (
                    f": sensitive by the {t.sensitive_days}-day definition, resistant by the "
                    f"{t.annab_resistant_days}-day definition of the ANNAB study"
                )
            case "rechallenge-window":
                text += f", {t.rechallenge_window_days} days or more"
            case "rechallenge-window-later-line":
                text += (
                    f", {t.rechallenge_window_days} days or more; the re-treatment evidence is "
                    "from second-line studies"
                )
            case "rechallenge-window-poor-performance":
                text += (
                    f", {t.rechallenge_window_days} days or more; performance status keeps it "
                    "from being recommended"
                )
        return text + "."

    def _check_items(self) -> list[str]:
        """§11 "Check the record": the engine's record issues, each naming its records."""
        return [check_item(issue, self.knowledge) for issue in self.evaluation.record_issues]


def check_item(issue: RecordIssue, knowledge: Knowledge | None = None) -> str:
    """One item of "Check the record" (§11) as the summary card words it, in markdown."""
    records = ", ".join(escape(r) for r in issue.records)
    match issue.kind:
        case "warning":
            return escape(issue.warning or "")
        case "option-withheld":
            title = (knowledge or load_knowledge()).option(issue.option or "").title
            return (
                f"{title} is not shown while {records} cannot be read (it may show the drug "
                "was given)"
            )
        case "estimated-progression":
            return (
                f"The progression date {_shown_day(issue.day)} is estimated from the start "
                f"of the next line ({records}): no dated progression is recorded."
            )
        case "undated-relapse":
            return f"A relapse is recorded without a usable date ({records})."
        case "possibly-received":
            return (
                f"{records}: not placed in a line; if a line of its own, line "
                f"{issue.next_line} is too low."
            )


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
    evaluation: Evaluation, *, base_url: str, knowledge: Knowledge | None = None
) -> list[dict[str, Any]]:
    """The cards `patient-view` returns (CLINICAL_RULES §8–§11): the summary, and at a
    decision point the options card and the trial card; links under `base_url`."""
    e = evaluation
    if not e.diagnosis.sclc or e.patient.deceased:
        return []
    maker = _CardMaker(e, knowledge or load_knowledge(), base_url)
    if not e.lines:
        return [maker.no_therapy_card()]
    cards = [maker.summary_card()]
    if e.options:
        cards.append(maker.options_card())
    cards.extend(
        maker.trial_card(maker.knowledge.trial(t.id)) for t in e.trials if t.id == TRIAL_ID
    )
    return cards


def check_the_record(evaluation: Evaluation, *, knowledge: Knowledge | None = None) -> list[str]:
    """The items the summary card lists under "Check the record" (§11), as its markdown."""
    return _CardMaker(evaluation, knowledge or load_knowledge(), "")._check_items()


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
    e = evaluation
    if not e.diagnosis.sclc or e.patient.deceased:
        return []
    maker = _CardMaker(e, knowledge or load_knowledge(), base_url)
    cards = [maker.verdict_card(v) for v in order_verdicts(e, agents)]
    if cards:
        cards[0]["detail"] = f"{cards[0]['detail']}\n\n{DISCLAIMER}"
    return cards
