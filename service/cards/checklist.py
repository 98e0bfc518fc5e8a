"""The items of "Check the record" (CLINICAL_RULES §11): the engine's record issues, worded.

Each item names the FHIR records it is about, escaped (they come from the record). A
record may repeat one problem thousands of times (15,000 drug records of an unknown
code): `check_items` shows the first few of each kind and counts the rest, and an item
names at most `RECORDS_NAMED` records, so a card stays small whatever the record holds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from service.cards.markdown import escape
from service.engine.model import RecordIssue
from service.knowledge import Knowledge, load_knowledge

__all__ = ["ITEMS_PER_KIND", "RECORDS_NAMED", "check_item", "check_items"]

# How many items of one kind the list shows before it counts the rest.
ITEMS_PER_KIND = 3
# How many records one item names before it counts the rest.
RECORDS_NAMED = 10
_QUOTED = re.compile(r"'[^']*'|\([^)]*\)")
_DIGITS = re.compile(r"\d+")
_LABEL_END = re.compile(r"[(;']")


def check_item(issue: RecordIssue, knowledge: Knowledge | None = None) -> str:
    """One item of "Check the record" as the summary card words it, in markdown."""
    knowledge = knowledge or load_knowledge()
    w = knowledge.wording.check
    records = ", ".join(escape(r) for r in issue.records[:RECORDS_NAMED])
    if len(issue.records) > RECORDS_NAMED:
        records += " " + w.more_records.format(count=f"{len(issue.records) - RECORDS_NAMED:,}")
    match issue.kind:
        case "warning":
            return w.warning.format(warning=escape(issue.warning or ""))
        case "option-withheld":
            title = knowledge.option(issue.option or "").title
            return w.option_withheld.format(option=title, records=records)
        case "estimated-progression":
            date = issue.day.isoformat() if issue.day else knowledge.wording.card.unknown_date
            return w.estimated_progression.format(date=date, records=records)
        case "undated-relapse":
            return w.undated_relapse.format(records=records)
        case "possibly-received":
            return w.possibly_received.format(records=records, next_line=issue.next_line)


def _kind(issue: RecordIssue) -> tuple[str, str]:
    """Issues of one kind: one engine kind, and for warnings one text once the records,
    quoted values and numbers are taken out."""
    if issue.kind != "warning":
        return issue.kind, issue.option or ""
    text = issue.warning or ""
    for ref in issue.records:
        text = text.replace(ref, "")
    return issue.kind, _DIGITS.sub("#", _QUOTED.sub("", text))


def _label(issue: RecordIssue) -> str:
    """What a kind of warning is about, from its first item: its words after the records
    it names, up to its first detail ("unidentified medication")."""
    text = issue.warning or ""
    for ref in issue.records:
        text = text.replace(ref, "")
    text = text.lstrip(" ,:")
    return _LABEL_END.split(text, maxsplit=1)[0].strip(" ,:;") or issue.kind


def check_items(issues: Iterable[RecordIssue], knowledge: Knowledge | None = None) -> list[str]:
    """The items of "Check the record" in order: at most `ITEMS_PER_KIND` of each kind,
    then one item counting the rest of that kind."""
    knowledge = knowledge or load_knowledge()
    w = knowledge.wording.check
    seen: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], RecordIssue] = {}
    items: list[str] = []
    for issue in issues:
        kind = _kind(issue)
        seen[kind] += 1
        first.setdefault(kind, issue)
        if seen[kind] <= ITEMS_PER_KIND:
            items.append(check_item(issue, knowledge))
    for kind, count in seen.items():
        if count > ITEMS_PER_KIND:
            label = escape(_label(first[kind]))
            items.append(w.more_of_kind.format(count=f"{count - ITEMS_PER_KIND:,}", kind=label))
    return items
