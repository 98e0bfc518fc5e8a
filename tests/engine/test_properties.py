"""Properties over generated treatment histories (hypothesis)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine import evaluate
from service.engine.record import MedicationFact, Record
from tests.builders import patient, sclc, worsened

TODAY = date(2026, 11, 21)
ORIGIN = date(2023, 1, 1)
AGENTS = [
    "carboplatin",
    "cisplatin",
    "etoposide",
    "atezolizumab",
    "durvalumab",
    "topotecan",
    "lurbinectedin",
    "paclitaxel",
    "nab-paclitaxel",
    "anlotinib",
    "amrubicin",
    "tarlatamab",
]
PLATINUM = {"carboplatin", "cisplatin"}

exposure = st.tuples(
    st.sampled_from(AGENTS),
    st.integers(min_value=0, max_value=1000),  # start, days after ORIGIN
    st.integers(min_value=0, max_value=60),  # duration
)
history = st.tuples(
    st.lists(exposure, min_size=1, max_size=14),
    st.lists(st.integers(min_value=0, max_value=1100), max_size=3),  # progression days
)


def build(spec: tuple[list[tuple[str, int, int]], list[int]]) -> Record:
    exposures, progressions = spec
    medications = tuple(
        MedicationFact(
            ref=f"MedicationStatement/m{i}",
            kind="MedicationStatement",
            status="completed",
            codes=(),
            texts=(agent,),
            start=ORIGIN + timedelta(days=start),
            end=ORIGIN + timedelta(days=start + length),
        )
        for i, (agent, start, length) in enumerate(exposures)
    )
    observations = tuple(
        worsened((ORIGIN + timedelta(days=day)).isoformat(), ref=f"Observation/o{i}")
        for i, day in enumerate(progressions)
    )
    return Record(
        patient=patient(),
        conditions=(sclc("2022-12-15"),),
        medications=medications,
        observations=observations,
    )


@settings(max_examples=200, deadline=None)
@given(history, st.data())
def test_shuffling_resources_changes_nothing(spec, data: st.DataObject) -> None:
    """Any order of the medication and observation records gives the same evaluation."""
    record = build(spec)
    meds = data.draw(st.permutations(record.medications))
    observations = data.draw(st.permutations(record.observations))
    mixed = replace(record, medications=tuple(meds), observations=tuple(observations))
    assert evaluate(mixed, today=TODAY) == evaluate(record, today=TODAY)


@settings(max_examples=200, deadline=None)
@given(history, st.integers(min_value=0, max_value=1000))
def test_adding_a_non_cancer_drug_changes_nothing(spec, day: int) -> None:
    """§3: a lisinopril record on any day leaves the evaluation JSON unchanged."""
    record = build(spec)
    lisinopril = MedicationFact(
        ref="MedicationStatement/other",
        kind="MedicationStatement",
        status="active",
        codes=(),
        texts=("Lisinopril 10 MG Oral Tablet",),
        start=ORIGIN + timedelta(days=day),
        end=ORIGIN + timedelta(days=day),
    )
    more = replace(record, medications=(*record.medications, lisinopril))
    assert evaluate(more, today=TODAY).to_json() == evaluate(record, today=TODAY).to_json()


@settings(max_examples=300, deadline=None)
@given(history)
def test_every_exposure_is_in_exactly_one_line(spec) -> None:
    """§5: every generated exposure is a source of exactly one line."""
    record = build(spec)
    result = evaluate(record, today=TODAY)
    sources = [s for line in result.lines for s in line.sources]
    assert sorted(sources) == sorted(m.ref for m in record.medications)


@settings(max_examples=300, deadline=None)
@given(history)
def test_lines_are_numbered_in_start_order(spec) -> None:
    """§5: lines are numbered 1..n in order of strictly increasing start dates."""
    result = evaluate(build(spec), today=TODAY)
    assert [line.number for line in result.lines] == list(range(1, len(result.lines) + 1))
    starts = [line.start for line in result.lines]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


@settings(max_examples=300, deadline=None)
@given(history)
def test_interval_is_progression_minus_last_platinum_dose(spec) -> None:
    """§7: interval = progression date - last platinum dose of the latest platinum line;
    (v3 §5.6) a platinum record running past the next line's start ends the day before."""
    record = build(spec)
    result = evaluate(record, today=TODAY)
    platinum_lines = [line for line in result.lines if set(line.agents) & PLATINUM]
    if not platinum_lines:
        assert result.platinum is None
        return
    line = platinum_lines[-1]
    by_ref = {m.ref: m for m in record.medications}
    last_dose = max(
        by_ref[s].end
        for s in line.sources
        if by_ref[s].texts[0] in PLATINUM  # type: ignore[type-var]
    )
    following = [later for later in result.lines if later.number == line.number + 1]
    if following and last_dose >= following[0].start:
        # Each record is cut to the day before the next line, never before its own start.
        cut = following[0].start - timedelta(days=1)
        last_dose = max(
            max(by_ref[s].start, min(by_ref[s].end, cut))  # type: ignore[type-var]
            for s in line.sources
            if by_ref[s].texts[0] in PLATINUM
        )
        assert result.platinum is not None and result.platinum.estimated
    assert result.platinum is not None and result.platinum.last_dose == last_dose
    assert result.platinum.days_since_last_platinum == (TODAY - last_dose).days
    progression = result.progression
    if (
        line is result.lines[-1]
        and progression
        and progression.date
        and progression.date > line.start
    ):
        # the latest event is the first after the latest line only when it is alone there
        events_after = [
            o.effective for o in record.observations if o.effective and o.effective > line.start
        ]
        if len(set(events_after)) == 1:
            assert result.platinum.interval_days == (progression.date - last_dose).days
    if result.platinum.interval_days is not None:
        candidates = {o.effective for o in record.observations if o.effective} | {
            later.start for later in result.lines
        }
        assert any(
            c > line.start and (c - last_dose).days == result.platinum.interval_days
            for c in candidates
            if c is not None
        )


NEGATIVE_DAYS = re.compile(r"(?<![\w-])[-−]\d+\s*(?:d\b|days?\b)")


@settings(max_examples=300, deadline=None)
@given(history)
def test_no_timeline_or_worklist_shows_a_negative_interval(spec) -> None:
    """§7 (v3): a progression during platinum therapy is "refractory", never "-N days",
    on the SMART timeline and in the population worklist."""
    from service.screen.worklist import row_of
    from service.smart.chart import timeline

    result = evaluate(build(spec), today=TODAY)
    drawn = timeline(result)
    label = (drawn["platinum"] or {}).get("label") or ""
    assert not NEGATIVE_DAYS.search(label), label
    if result.platinum is not None and result.platinum.sensitivity == "refractory":
        assert label.startswith("Progressed during platinum therapy")
    if result.diagnosis.sclc:
        days = row_of(result).platinum_free_days
        assert days is None or days >= 0
