"""The reader's shortcut for the commonest shape answers as the long reading does.

`observation_measures` reads a result with one coding and no components directly; for
any Observation it must answer what reading every coding answers.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine import rules
from service.fhir.relevance import MEASURES, _measures_of_every_code, observation_measures

LOINCS = sorted({code for measure in MEASURES for code in measure.loincs})
codes = st.one_of(
    st.sampled_from(
        [*LOINCS, rules.DISEASE_STATUS_LOINC, *sorted(rules.STAGE_OBSERVATION_CODES), "8867-4", ""]
    ),
    st.none(),
    st.integers(),
    st.text(max_size=6),
)
codings = st.one_of(
    st.lists(
        st.one_of(st.fixed_dictionaries({"code": codes}), st.none(), st.text(max_size=3)),
        max_size=3,
    ),
    st.none(),
    st.text(max_size=3),
)
concepts = st.one_of(st.fixed_dictionaries({"coding": codings}), st.none(), st.integers())
observations = st.builds(
    lambda concept, components: {
        "resourceType": "Observation",
        "code": concept,
        **({} if components is None else {"component": components}),
    },
    concepts,
    st.one_of(st.none(), st.lists(st.fixed_dictionaries({"code": concepts}), max_size=2)),
)


@settings(max_examples=400, deadline=None)
@given(observations)
def test_the_short_reading_of_measures_is_the_long_one(resource: dict[str, Any]) -> None:
    """Any Observation: the same measures (or None for disease status and stage) either
    way."""
    assert observation_measures(resource) == _measures_of_every_code(resource)
