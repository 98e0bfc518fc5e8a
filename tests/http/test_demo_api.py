"""`/demo` and its JSON helpers: page, patient list, fixture bundle, timeline."""

from __future__ import annotations

from tests.http.support import CheckedClient, fixture_bundle


def test_demo_page_is_served_as_html(client: CheckedClient) -> None:
    """/demo is an HTML page that loads demo.js, and the script is served."""
    page = client.get("/demo")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"/demo/static/demo.js" in page.data
    with client.get("/demo/static/demo.js") as script:
        assert script.status_code == 200


def test_patient_list_names_every_fixture(client: CheckedClient) -> None:
    """The patient list has an entry (id, name, scenario) for each fixture."""
    listing = client.get("/demo/api/patients").get_json()
    assert len(listing) >= 20
    assert {"id": "third-line", "name": "Third Fixture", "scenario": "third-line"} in listing


def test_fixture_bundle_and_unknown_patient(client: CheckedClient) -> None:
    """A fixture's patient is served as a Bundle; an unknown patient is a 404."""
    assert client.get("/demo/api/patients/third-line").get_json()["resourceType"] == "Bundle"
    assert client.get("/demo/api/patients/nobody").status_code == 404


def test_evaluate_gives_header_evaluation_and_timeline(client: CheckedClient) -> None:
    """third-line: 147-day interval from 2025-10-20 to 2026-03-16 (tests/expected/README.md)."""
    body = client.post("/demo/api/evaluate", json=fixture_bundle("third-line")).get_json()
    assert body["header"]["name"] == "Third Fixture"
    assert body["evaluation"]["next_line"] == 3
    timeline = body["timeline"]
    assert [line["number"] for line in timeline["lines"]] == [1, 2]
    assert timeline["lines"][0]["maintenance_from"] is not None
    assert timeline["platinum"]["label"] == "Platinum-free interval: 147 days (sensitive)"
    assert timeline["platinum"]["progression_date"] == "2026-03-16"


def test_evaluate_refuses_what_is_not_a_patient_bundle(client: CheckedClient) -> None:
    """Evaluate answers 400 to a bundle without a patient, a JSON list, or a non-JSON body."""
    for body in ({"resourceType": "Bundle", "type": "collection", "entry": []}, [1, 2]):
        response = client.post("/demo/api/evaluate", json=body)
        assert response.status_code == 400
    assert client.post("/demo/api/evaluate", data="x", content_type="text/plain").status_code == 400
