"""`POST /cds-services/{id}/feedback`: checked per the spec, stored once, durably; 503
when the database does not answer. (PostgreSQL: tests/db.)"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from service import store as store_module
from service.feedback import parse_feedback
from service.store import Store
from tests.cds_conformance import assert_conforms
from tests.conftest import SHARED
from tests.http.conftest import AppFactory
from tests.http.support import SERVICE_IDS, CheckedClient, hook_request

FEEDBACK = f"/cds-services/{SERVICE_IDS['patient-view']}/feedback"
EXAMPLES = SHARED / "cds-hooks" / "spec-2.0.1-examples"
ACCEPTED = {
    "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
    "outcome": "accepted",
    "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
    "outcomeTimestamp": "2021-12-11T10:05:31Z",
}
OVERRIDDEN = {
    "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
    "outcome": "overridden",
    "overrideReason": {
        "reason": {"code": "other-plan", "system": "urn:sclc-relapse-cds:override-reason"},
        "userComment": "Another treatment is already planned.",
    },
    "outcomeTimestamp": "2020-12-11T00:00:00.123Z",
}


def rows(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(
            "SELECT service_id, card, outcome, outcome_timestamp, item FROM feedback ORDER BY id"
        ).fetchall()


def post(client: CheckedClient, *items: dict[str, Any], path: str = FEEDBACK) -> Any:
    body = {"feedback": list(items)}
    assert_conforms("FeedbackRequest", body)
    return client.post(path, json=body)


def test_feedback_is_stored(client: CheckedClient, tmp_path: Path) -> None:
    """200, and one row per item with the service, card, outcome and the item itself."""
    response = post(client, ACCEPTED, OVERRIDDEN)
    assert response.status_code == 200
    assert response.json == {"received": 2, "stored": 2}
    stored = rows(tmp_path / "feedback.sqlite3")
    assert [row[:3] for row in stored] == [
        (SERVICE_IDS["patient-view"], ACCEPTED["card"], "accepted"),
        (SERVICE_IDS["patient-view"], OVERRIDDEN["card"], "overridden"),
    ]
    assert stored[0][3] == "2021-12-11T10:05:31+00:00"
    assert json.loads(stored[1][4]) == OVERRIDDEN


def test_a_duplicate_delivery_is_stored_once(client: CheckedClient, tmp_path: Path) -> None:
    """The same item delivered again (or twice in one request) is acknowledged, not repeated."""
    assert post(client, ACCEPTED).json == {"received": 1, "stored": 1}
    assert post(client, ACCEPTED).json == {"received": 1, "stored": 0}
    assert post(client, OVERRIDDEN, OVERRIDDEN).json == {"received": 2, "stored": 1}
    assert len(rows(tmp_path / "feedback.sqlite3")) == 2


def test_distinct_outcomes_of_one_card_are_all_kept(client: CheckedClient, tmp_path: Path) -> None:
    """A card accepted at one time and overridden later: two rows."""
    later = {**ACCEPTED, "outcomeTimestamp": "2021-12-11T11:00:00Z"}
    overridden = {
        "card": ACCEPTED["card"],
        "outcome": "overridden",
        "outcomeTimestamp": "2021-12-12T09:00:00Z",
    }
    assert post(client, ACCEPTED, later, overridden).json == {"received": 3, "stored": 3}


def test_feedback_is_kept_per_service(client: CheckedClient, tmp_path: Path) -> None:
    """The same item for two services is two rows."""
    post(client, ACCEPTED)
    post(client, ACCEPTED, path=f"/cds-services/{SERVICE_IDS['order-sign']}/feedback")
    assert [row[0] for row in rows(tmp_path / "feedback.sqlite3")] == [
        SERVICE_IDS["patient-view"],
        SERVICE_IDS["order-sign"],
    ]


def test_the_database_and_its_folder_are_created_on_demand(
    make_app: AppFactory, tmp_path: Path
) -> None:
    """SCLC_CDS_FEEDBACK_DB may name a file in a folder that does not exist yet."""
    database = tmp_path / "deep" / "er" / "feedback.sqlite3"
    client = make_app(FEEDBACK_DB=str(database)).test_client()
    assert post(client, ACCEPTED).status_code == 200
    assert Store.sqlite(database).count_feedback() == 1


def test_the_store_is_in_wal_mode(client: CheckedClient, tmp_path: Path) -> None:
    """Write-ahead logging: readers are not blocked while a worker writes."""
    post(client, ACCEPTED)
    with closing(sqlite3.connect(tmp_path / "feedback.sqlite3")) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_schema_is_created_once_with_the_app(make_app: AppFactory, tmp_path: Path) -> None:
    """The tables exist as soon as the app is built; a feedback call runs no DDL."""
    database = tmp_path / "new" / "feedback.sqlite3"
    app = make_app(FEEDBACK_DB=str(database))
    with closing(sqlite3.connect(database)) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"feedback", "seen_tokens"} <= tables
    statements: list[str] = []
    engine = app.extensions["sclc_cds"].store.engine
    sqlalchemy.event.listen(
        engine, "before_cursor_execute", lambda *args: statements.append(args[2].lstrip().upper())
    )
    assert post(app.test_client(), ACCEPTED).status_code == 200  # type: ignore[arg-type]
    assert statements and not [s for s in statements if s.startswith(("CREATE", "ALTER"))]


CONCURRENT_THREADS = 16
ITEMS_PER_THREAD = 20


def test_concurrent_first_writes_to_a_new_database_are_all_stored(
    make_app: AppFactory, tmp_path: Path
) -> None:
    """16 threads post 320 distinct items at once to a brand-new database: 320 x 200, 320 rows."""
    database = tmp_path / "fresh" / "feedback.sqlite3"
    app = make_app(FEEDBACK_DB=str(database))
    start = threading.Barrier(CONCURRENT_THREADS)
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def send(thread: int) -> None:
        client = app.test_client()
        start.wait(timeout=10)
        for n in range(ITEMS_PER_THREAD):
            item = {**ACCEPTED, "card": f"card-{thread:02d}-{n:02d}"}
            response = client.post(FEEDBACK, json={"feedback": [item]})
            with lock:
                answers.append((response.status_code, response.json))

    threads = [threading.Thread(target=send, args=(t,)) for t in range(CONCURRENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    sent = CONCURRENT_THREADS * ITEMS_PER_THREAD
    assert [status for status, _ in answers] == [200] * sent
    assert sum(body["stored"] for _, body in answers) == sent
    assert len(rows(database)) == sent


def test_a_locked_database_is_503_and_hooks_still_answer(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that stays locked past the busy timeout: 503 'transient', nothing
    acknowledged; hook calls, which never touch the store, still get their cards."""
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_SECONDS", 0.2)
    database = tmp_path / "feedback.sqlite3"
    client = make_app(FEEDBACK_DB=str(database)).test_client()
    with closing(sqlite3.connect(database, isolation_level=None)) as holder:
        holder.execute("BEGIN EXCLUSIVE")
        refused = post(client, ACCEPTED)
        hook = client.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=hook_request())
        holder.execute("ROLLBACK")
    assert refused.status_code == 503
    assert refused.json["resourceType"] == "OperationOutcome"
    assert refused.json["issue"][0]["code"] == "transient"
    assert hook.status_code == 200 and hook.json["cards"]
    assert post(client, ACCEPTED).json == {"received": 1, "stored": 1}  # sent again: stored


@pytest.mark.parametrize(
    "name",
    ["feedback-accepted.json", "feedback-overridden.json", "feedback-overridden-with-reason.json"],
)
def test_the_spec_examples_are_accepted(client: CheckedClient, name: str) -> None:
    """Every feedback example of the 2.0.1 text is stored."""
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the CDS Hooks kit lives in ../shared/cds-hooks")
    response = client.post(FEEDBACK, json=json.loads(path.read_text()))
    assert response.status_code == 200
    assert response.json["stored"] == 1


def _item(**change: Any) -> dict[str, Any]:
    item = {**ACCEPTED, **change}
    return {k: v for k, v in item.items() if v is not None}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([ACCEPTED], "must be a JSON object"),
        ({"items": [ACCEPTED]}, "feedback is required"),
        ({"feedback": []}, "feedback must not be empty"),
        ({"feedback": ACCEPTED}, "feedback must be a list"),
        ({"feedback": ["x"]}, "feedback[0] must be a JSON object"),
        ({"feedback": [_item(card=None)]}, "feedback[0].card"),
        ({"feedback": [_item(card="")]}, "feedback[0].card"),
        ({"feedback": [_item(outcome="rejected")]}, "'accepted' or 'overridden'"),
        ({"feedback": [_item(outcomeTimestamp=None)]}, "feedback[0].outcomeTimestamp is required"),
        ({"feedback": [_item(outcomeTimestamp="2021-12-11")]}, "outcomeTimestamp"),
        ({"feedback": [_item(outcomeTimestamp="2021-12-11T10:05:31")]}, "outcomeTimestamp"),
        ({"feedback": [_item(outcomeTimestamp="yesterday")]}, "outcomeTimestamp"),
        ({"feedback": [_item(outcomeTimestamp="2021-13-41T10:05:31Z")]}, "outcomeTimestamp"),
        ({"feedback": [_item(acceptedSuggestions=None)]}, "acceptedSuggestions is required"),
        ({"feedback": [_item(acceptedSuggestions=[])]}, "acceptedSuggestions must not be empty"),
        ({"feedback": [_item(acceptedSuggestions=[{"id": ""}])]}, "acceptedSuggestions[0].id"),
        (
            {"feedback": [ACCEPTED, _item(acceptedSuggestions=[{}])]},
            "feedback[1].acceptedSuggestions[0].id",
        ),
        (
            {"feedback": [{**OVERRIDDEN, "overrideReason": {}}]},
            "overrideReason needs 'reason' (a Coding) or 'userComment'",
        ),
        (
            {"feedback": [{**OVERRIDDEN, "overrideReason": {"reason": {"code": "x"}}}]},
            "overrideReason.reason.system is required",
        ),
        (
            {"feedback": [{**OVERRIDDEN, "overrideReason": {"userComment": ""}}]},
            "overrideReason.userComment",
        ),
        (
            {"feedback": [{**OVERRIDDEN, "overrideReason": {"note": "x"}}]},
            "needs 'reason' (a Coding) or 'userComment'",
        ),
    ],
)
def test_invalid_feedback_is_400_with_a_reason(
    client: CheckedClient, tmp_path: Path, body: Any, reason: str
) -> None:
    """Each rule of the spec's Feedback section, with the field at fault named; nothing stored."""
    response = client.post(FEEDBACK, json=body)
    assert response.status_code == 400
    assert response.json["issue"][0]["code"] == "invalid"
    assert reason in response.json["issue"][0]["diagnostics"]
    assert Store.sqlite(tmp_path / "feedback.sqlite3").count_feedback() == 0


def test_an_offset_timestamp_is_normalised_to_utc() -> None:
    """`+02:00` is read as the same instant in UTC."""
    (item,) = parse_feedback({"feedback": [_item(outcomeTimestamp="2021-12-11T12:05:31+02:00")]})
    assert item.outcome_timestamp.isoformat() == "2021-12-11T10:05:31+00:00"


def test_feedback_without_json_content_type_is_400(client: CheckedClient) -> None:
    """Feedback is JSON too."""
    response = client.post(
        FEEDBACK, data=json.dumps({"feedback": [ACCEPTED]}), content_type="text/plain"
    )
    assert response.status_code == 400
