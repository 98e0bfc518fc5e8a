"""One way from FHIR resources to what the service shows: record, evaluation, cards.

Every caller goes through here: the CDS Hooks endpoints, `sclc-cds evaluate`, the demo
and anything later. `pick_patient` is the one rule for which patient is evaluated
(CLINICAL_RULES §1): the one the caller names, else the only Patient of the input.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from service.cards import patient_view_cards
from service.engine import Evaluation, Thresholds, evaluate
from service.engine.record import Record
from service.errors import InputError
from service.fhir import RawResource, build_records
from service.fhir.parse import Fingerprint, select

__all__ = [
    "CACHE_SIZE",
    "CONTENT_BYTES",
    "CONTENT_BYTES_EACH",
    "DEFAULT_BASE_URL",
    "Assessment",
    "AssessmentCache",
    "assess",
    "assess_each",
    "cache_of",
    "pick_patient",
]

# The service's address under `make run`: where the links of cards made outside a
# request (the CLI) point unless SCLC_CDS_BASE_URL says otherwise.
DEFAULT_BASE_URL = "http://localhost:8080"


@dataclass(frozen=True)
class Assessment:
    """One patient's record, its evaluation and its patient-view cards."""

    record: Record
    evaluation: Evaluation
    base_url: str = DEFAULT_BASE_URL  # where the cards' links point (the service itself)

    @cached_property
    def cards(self) -> list[dict[str, Any]]:
        """The cards `patient-view` returns (built once, on first use)."""
        return patient_view_cards(self.evaluation, base_url=self.base_url)

    @cached_property
    def cards_answer(self) -> str:
        """`{"cards": cards}` as compact JSON, as the app's JSON provider writes it (made
        once: a cached assessment answers the same chart again without re-encoding)."""
        return json.dumps({"cards": self.cards}, ensure_ascii=False, separators=(",", ":"))

    def to_json(self) -> dict[str, Any]:
        """The evaluation JSON of CONTRACT.md, with its cards."""
        return self.evaluation.to_json(cards=self.cards)


def _patient_ids(resources: Iterable[RawResource]) -> list[str]:
    ids = (r.resource.get("id") for r in resources if r.resource.get("resourceType") == "Patient")
    return list(dict.fromkeys(i for i in ids if isinstance(i, str) and i))


def pick_patient(resources: Sequence[RawResource], patient_id: str | None) -> str:
    """The id of the patient to evaluate: `patient_id` when given, else the only Patient."""
    if patient_id is not None:
        return patient_id
    ids = _patient_ids(resources)
    if not ids:
        raise InputError("the input holds no Patient resource")
    if len(ids) > 1:
        raise InputError("the input holds several Patients; name the one to evaluate")
    return ids[0]


# Assessments one worker process keeps (AssessmentCache): a record repeated (a chart
# opened again, a hook fired twice) within this many distinct calls is answered at once.
CACHE_SIZE = 256
_CACHE_KEY = "sclc_cds.assessments"


# What the request-content keys of one process may hold in all (`AssessmentCache.remember`),
# and the largest one kept: a 5,000-resource prefetch serialises to about 4 MB. Past it,
# serialising the prefetch (about 1 ms a megabyte) costs more than the reader's own
# cache leaves to gain, and the call is not keyed at all.
CONTENT_BYTES = 64 * 1024 * 1024
CONTENT_BYTES_EACH = CONTENT_BYTES // 16


class AssessmentCache:
    """The latest assessments of one process, each beside what its reader read.

    A call is answered from here only when the resources it reads (the fast path's:
    `service.fhir.parse.Selection`), its patient id, evaluation date, thresholds,
    reader warnings and card base URL are equal, value for value, to a cached call's:
    the JSON itself is compared, never a hash, so no collision can hand one patient's
    cards to another call. Bounded: the least recently used entry goes first.

    Before reading anything, a hook call may also be answered by the content of its
    request (`recall`): a key its caller builds from everything the assessment depends
    on, the prefetch among it byte for byte as sent (`service.http.body.sent_prefetch`),
    compared byte for byte. It costs cutting the prefetch out of the body instead of
    parsing, walking and planning it, and holds at most `CONTENT_BYTES` of keys besides
    the `size` entries.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.hits = 0
        self._entries: OrderedDict[Hashable, tuple[Fingerprint, Assessment]] = OrderedDict()
        self._contents: OrderedDict[tuple[Any, ...], tuple[int, Assessment]] = OrderedDict()
        self._content_bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._contents.clear()
            self._content_bytes = 0

    def recall(self, content: tuple[Any, ...]) -> Assessment | None:
        """The assessment remembered for a request of exactly this content, if any."""
        with self._lock:
            found = self._contents.get(content)
            if found is None:
                return None
            self._contents.move_to_end(content)
            self.hits += 1
        return found[1]

    def remember(self, content: tuple[Any, ...], size: int, assessment: Assessment) -> None:
        """Keep `assessment` for requests of this `content` (`size` bytes of key)."""
        if self.size <= 0 or size > CONTENT_BYTES_EACH:
            return
        with self._lock:
            previous = self._contents.pop(content, None)
            if previous is not None:
                self._content_bytes -= previous[0]
            self._contents[content] = (size, assessment)
            self._content_bytes += size
            while self._content_bytes > CONTENT_BYTES or len(self._contents) > self.size:
                dropped, _ = self._contents.popitem(last=False)[1]
                self._content_bytes -= dropped

    def get(self, key: Hashable, reads: Callable[[Fingerprint], bool]) -> Assessment | None:
        """The cached assessment of `key` when `reads(fingerprint)` says it read the same."""
        with self._lock:
            found = self._entries.get(key)
        if found is None or not reads(found[0]):
            return None
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
            self.hits += 1
        return found[1]

    def put(self, key: Hashable, fingerprint: Fingerprint, assessment: Assessment) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[key] = (fingerprint, assessment)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def cache_of(extensions: MutableMapping[str, Any]) -> AssessmentCache:
    """The app's assessment cache (one per app, in each worker process)."""
    found = extensions.get(_CACHE_KEY)
    if not isinstance(found, AssessmentCache):
        found = extensions.setdefault(_CACHE_KEY, AssessmentCache())
    return found


def assess(
    resources: Sequence[RawResource],
    *,
    patient_id: str | None,
    today: date,
    thresholds: Thresholds,
    warnings: Sequence[str] = (),
    base_url: str = DEFAULT_BASE_URL,
    full_validation: bool = False,
    cache: AssessmentCache | None = None,
) -> Assessment:
    """The named patient's (or the only patient's) assessment.

    The reader validates only what the engine can read (`full_validation` validates
    every resource, for comparison); with `cache`, a call that reads exactly what a
    cached one read gets that assessment.
    """
    chosen = pick_patient(resources, patient_id)
    selection = select(resources, patient_id=chosen, today=today, full_validation=full_validation)
    key = (chosen, today, thresholds, tuple(warnings), base_url, full_validation)
    if cache is not None:
        found = cache.get(key, selection.reads_as)
        if found is not None:
            return found
    record = selection.record(warnings)
    assessment = Assessment(record, evaluate(record, today=today, thresholds=thresholds), base_url)
    if cache is not None:
        cache.put(key, selection.fingerprint(), assessment)
    return assessment


def assess_each(
    resources: Sequence[RawResource],
    *,
    today: date,
    thresholds: Thresholds,
    warnings: Sequence[str] = (),
    base_url: str = DEFAULT_BASE_URL,
    full_validation: bool = False,
) -> list[Assessment]:
    """Every Patient of a population input, each on its own resources (read once)."""
    found = build_records(
        resources, warnings=warnings, today=today, full_validation=full_validation
    )
    records = [r for r in found if r.patient is not None]
    if not records:
        raise InputError("the input holds no Patient resource")
    return [
        Assessment(r, evaluate(r, today=today, thresholds=thresholds), base_url) for r in records
    ]
