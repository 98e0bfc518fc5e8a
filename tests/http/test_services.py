"""Calling the services with prefetch: every fixture, drafted orders, record choice."""

from __future__ import annotations

from typing import Any

import pytest

from service.engine.record import Code
from service.hooks import DraftMedication, drafted_agents, read_drafts
from tests.http.support import (
    RXNORM,
    SCENARIOS,
    SERVICE_IDS,
    CheckedClient,
    draft_bundle,
    fixture_bundle,
    hook_request,
    medication_request,
    patient_of,
    prefetch_for,
)

PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"
ORDER_SELECT = f"/cds-services/{SERVICE_IDS['order-select']}"
ORDER_SIGN = f"/cds-services/{SERVICE_IDS['order-sign']}"


def cards(client: CheckedClient, path: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(path, json=request)
    assert response.status_code == 200, response.json
    return list(response.json["cards"])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_patient_view_answers_every_fixture_with_conforming_cards(
    client: CheckedClient, scenario: str
) -> None:
    """200 with a conforming response for each synthetic patient, given full prefetch."""
    response = client.post(PATIENT_VIEW, json=hook_request(bundle=fixture_bundle(scenario)))
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert isinstance(response.json["cards"], list)


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_order_services_answer_with_conforming_cards(client: CheckedClient, hook: str) -> None:
    """A drafted carboplatin order for the relapse scenario gets a 200 ServiceResponse."""
    response = client.post(f"/cds-services/{SERVICE_IDS[hook]}", json=hook_request(hook))
    assert response.status_code == 200
    assert isinstance(response.json["cards"], list)


def test_patient_view_shows_cards_at_a_relapse_decision_point(client: CheckedClient) -> None:
    """The line-2 decision scenario gets cards (what they say is the card builders')."""
    assert cards(client, PATIENT_VIEW, hook_request()) != []


def test_a_patient_without_sclc_gets_no_cards(client: CheckedClient) -> None:
    """NSCLC: {"cards": []} from every service."""
    bundle = fixture_bundle("nsclc")
    for hook in SERVICE_IDS:
        assert cards(client, f"/cds-services/{SERVICE_IDS[hook]}", hook_request(hook, bundle)) == []


def test_null_prefetch_keys_mean_no_data(client: CheckedClient) -> None:
    """A key the client had no data for is null: read as empty, not as missing (no 412)."""
    request = hook_request()
    request["prefetch"]["medicationAdministrations"] = None
    request["prefetch"]["observations"] = None
    assert client.post(PATIENT_VIEW, json=request).status_code == 200


def test_same_cards_whichever_key_holds_a_resource(client: CheckedClient) -> None:
    """The record is every prefetch value read together, as the CLI reads a request."""
    bundle = fixture_bundle()
    split = prefetch_for(bundle)
    merged = dict.fromkeys(split)
    merged["patient"] = split["patient"]
    merged["conditions"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [e for key, v in split.items() if key != "patient" for e in v["entry"]],
    }
    assert cards(client, PATIENT_VIEW, hook_request(prefetch=merged)) == cards(
        client, PATIENT_VIEW, hook_request(prefetch=split)
    )


def test_the_record_of_context_patient_id_is_chosen(client: CheckedClient) -> None:
    """With two patients in the data, only the one named by context.patientId is evaluated;
    the other's resources are dropped with a warning that does not name that patient."""
    relapse, nsclc = fixture_bundle(), fixture_bundle("nsclc")
    both = {
        key: {"resourceType": "Bundle", "type": "searchset", "entry": []}
        for key in prefetch_for(relapse)
    }
    both["patient"] = patient_of(relapse)
    both["conditions"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            e
            for e in relapse["entry"] + nsclc["entry"]
            if e["resource"]["resourceType"] != "Patient"
        ],
    }
    request = hook_request(
        bundle=relapse, prefetch={**prefetch_for(relapse), "conditions": both["conditions"]}
    )
    found = cards(client, PATIENT_VIEW, request)
    plain = cards(client, PATIENT_VIEW, hook_request())
    assert [c["summary"] for c in found[1:]] == [c["summary"] for c in plain[1:]]
    assert "belongs to another patient" in found[0]["detail"]
    assert patient_of(nsclc)["id"] not in found[0]["detail"]


def test_a_prefetched_patient_that_is_not_context_patient_id_is_never_evaluated(
    client: CheckedClient,
) -> None:
    """CLINICAL_RULES §1: another Patient in the `patient` prefetch makes that key missing:
    without a fhirServer the answer is 412, not cards about someone else."""
    request = hook_request()
    request["context"]["patientId"] = "someone-else"
    response = client.post(PATIENT_VIEW, json=request)
    assert response.status_code == 412
    assert "prefetch 'patient'" in response.json["issue"][0]["diagnostics"]


def test_data_about_other_patients_only_gives_no_cards(client: CheckedClient) -> None:
    """Data about other patients only: nothing of theirs is evaluated for this patient."""
    merged: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": []}
    for name in ("nsclc", "refractory"):
        merged["entry"] += fixture_bundle(name)["entry"]
    prefetch: dict[str, Any] = dict.fromkeys(prefetch_for(fixture_bundle()))
    prefetch["conditions"] = merged
    response = client.post(PATIENT_VIEW, json=hook_request(prefetch=prefetch))
    assert response.status_code == 200
    assert response.json["cards"] == []


# --- drafted orders ------------------------------------------------------------------


def order_request(hook: str, *orders: dict[str, Any], selections: list[str] | None = None) -> Any:
    request = hook_request(hook)
    request["context"]["draftOrders"] = draft_bundle(*orders)
    if hook == "order-select":
        request["context"]["selections"] = selections or [
            f"{o['resourceType']}/{o['id']}" for o in orders
        ]
    return request


def test_a_dstu2_medication_order_draft_is_read_like_a_medication_request(
    client: CheckedClient,
) -> None:
    """The sandbox's default DSTU2 server drafts MedicationOrder: same cards as R4."""
    r4 = medication_request("Topotecan", ident="m1")
    dstu2 = medication_request("Topotecan", ident="m1", kind="MedicationOrder")
    for hook in ("order-select", "order-sign"):
        path = f"/cds-services/{SERVICE_IDS[hook]}"
        expected = cards(client, path, order_request(hook, r4))
        assert expected  # topotecan gets its evidence card, so equality shows something
        assert cards(client, path, order_request(hook, dstu2)) == expected


def test_order_select_reads_only_the_selected_orders(client: CheckedClient) -> None:
    """A drug drafted earlier but not selected now does not count; nothing selected, no cards."""
    drug = medication_request("carboplatin", ident="old")
    diet = {"resourceType": "NutritionOrder", "id": "diet", "status": "draft"}
    request = order_request("order-select", drug, diet, selections=["NutritionOrder/diet"])
    assert cards(client, ORDER_SELECT, request) == []


def test_order_sign_reads_every_drafted_order(client: CheckedClient) -> None:
    """order-sign gets the same cards as order-select of the one anticancer draft."""
    # topotecan, not carboplatin: a sensitive patient's platinum order gets no card, and
    # [] == [] would pass whether or not the draft was read
    drug = medication_request("Topotecan", ident="d1")
    diet = {"resourceType": "NutritionOrder", "id": "diet", "status": "draft"}
    signed = cards(client, ORDER_SIGN, order_request("order-sign", drug, diet))
    selected = cards(client, ORDER_SELECT, order_request("order-select", drug))
    assert signed
    assert signed == selected


def test_drafts_of_no_anticancer_drug_give_no_cards(client: CheckedClient) -> None:
    """Paracetamol drafted for an SCLC patient: nothing for these services to say."""
    drug = medication_request("Paracetamol 500 mg", ident="p1", rxnorm="313782")
    for hook, path in (("order-select", ORDER_SELECT), ("order-sign", ORDER_SIGN)):
        assert cards(client, path, order_request(hook, drug)) == []


def code(rxnorm: str, display: str | None = None) -> Code:
    return Code(system=RXNORM, code=rxnorm, display=display)


@pytest.mark.parametrize(
    ("order", "extra", "agents"),
    [
        pytest.param(
            medication_request("Topotecan 4 MG Injection", ident="a"), [], ("topotecan",), id="text"
        ),
        pytest.param(
            {
                "resourceType": "MedicationRequest",
                "id": "a",
                "medicationReference": {"reference": "#m"},
                "contained": [
                    {"resourceType": "Medication", "id": "m", "code": {"text": "Lurbinectedin"}}
                ],
            },
            [],
            ("lurbinectedin",),
            id="contained-medication",
        ),
        pytest.param(
            {
                "resourceType": "MedicationOrder",
                "id": "a",
                "medicationReference": {"reference": "Medication/med9"},
            },
            [{"resourceType": "Medication", "id": "med9", "code": {"text": "Cisplatin"}}],
            ("cisplatin",),
            id="dstu2-medication-in-bundle",
        ),
        pytest.param(
            {
                "resourceType": "MedicationRequest",
                "id": "a",
                "medicationReference": {"reference": "Medication/gone", "display": "Etoposide"},
            },
            [],
            ("etoposide",),
            id="reference-display",
        ),
        pytest.param(
            {
                "resourceType": "MedicationRequest",
                "id": "a",
                "medication": {"concept": {"text": "Tarlatamab"}},
            },
            [],
            ("tarlatamab",),
            id="r5-codeable-reference",
        ),
        pytest.param(
            {"resourceType": "ServiceRequest", "id": "a", "code": {"text": "Carboplatin"}},
            [],
            (),
            id="not-a-medication-order",
        ),
    ],
)
def test_drafted_drugs_are_read_from_every_order_form(
    order: dict[str, Any], extra: list[dict[str, Any]], agents: tuple[str, ...]
) -> None:
    """Concept, contained or bundled Medication, reference display, R5 form."""
    drafts = read_drafts(draft_bundle(order, *extra), selections=[f"{order['resourceType']}/a"])
    assert drafted_agents(drafts) == agents
    assert all(d.selected for d in drafts)


def test_drafted_agents_come_from_the_catalogue_by_rxnorm_code() -> None:
    """An RxNorm code alone names its agent; each agent once, sorted."""
    catalogue_code = "40048"  # RxNorm: carboplatin
    drafts = (
        DraftMedication(ref="MedicationRequest/1", codes=(code(catalogue_code),), texts=()),
        DraftMedication(ref="MedicationRequest/2", codes=(), texts=("carboplatin AUC 5",)),
        DraftMedication(ref="MedicationRequest/3", codes=(), texts=("etoposide",)),
    )
    assert drafted_agents(drafts) == ("carboplatin", "etoposide")
