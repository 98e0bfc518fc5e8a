"""The cyclic garbage collector is paused while hook calls run, and only then; what a
call read is freed once its answer is closed."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Response
from werkzeug.test import EnvironBuilder

from service.http import collector
from service.http.collector import collector_paused, freed_after_answer


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    """Each test starts with the collector running and leaves it so."""
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_paused_during_a_call_and_resumes_after() -> None:
    """Inside the wrapped view the collector is off; after it, on again."""
    seen = collector_paused(gc.isenabled)()
    assert (seen, gc.isenabled()) == (False, True)


def test_a_failing_call_resumes_the_collector() -> None:
    """An exception in the view still resumes the collector."""

    @collector_paused
    def fails() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        fails()
    assert gc.isenabled()


def test_a_collector_paused_by_someone_else_stays_paused() -> None:
    """If the collector was off before the call, the call does not turn it on."""
    gc.disable()
    collector_paused(lambda: None)()
    assert not gc.isenabled()


def test_overlapping_calls_resume_the_collector_when_the_last_ends() -> None:
    """Two calls in two threads: still paused when the first ends, on after the second."""
    started, release = threading.Event(), threading.Event()

    @collector_paused
    def slow() -> None:
        started.set()
        release.wait(10)

    other = threading.Thread(target=slow)
    other.start()
    assert started.wait(10)
    collector_paused(lambda: None)()
    paused_meanwhile = not gc.isenabled()
    release.set()
    other.join(10)
    assert (paused_meanwhile, gc.isenabled()) == (True, True)


class _Held:
    """Something a call read, which can be watched for being freed."""


def test_what_a_call_read_is_freed_when_its_answer_is_closed() -> None:
    """Handed to the response: alive (and the collector paused) after the view returns,
    freed and the collector on again once the server closes the response."""
    read = [_Held()]
    watch = weakref.ref(read[0])

    @collector_paused
    def view() -> Response:
        return freed_after_answer(Response("{}"), read.pop())

    response = view()
    alive_after_view, paused_after_view = watch() is not None, not gc.isenabled()
    response.close()
    assert (alive_after_view, paused_after_view) == (True, True)
    assert watch() is None
    assert gc.isenabled()
    response.close()  # closing again changes nothing
    assert gc.isenabled()


def test_an_answer_dropped_unclosed_still_frees_and_resumes() -> None:
    """A response let go without close() (as a test client may) frees what it held."""
    read = [_Held()]
    watch = weakref.ref(read[0])
    response = collector_paused(lambda: freed_after_answer(Response("{}"), read.pop()))()
    paused = not gc.isenabled()
    del response
    assert paused
    assert watch() is None
    assert gc.isenabled()


def test_an_answer_on_its_way_does_not_collect_for_the_calls_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The young collection bounds garbage while calls overlap; an answer still holding
    its call's objects (all alive) is no call: leaving a view then collects nothing."""
    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: collections.append(1))
    monkeypatch.setattr(collector, "YOUNG_LIMIT", -1)  # always "too many objects"
    response = collector_paused(lambda: freed_after_answer(Response("{}"), _Held()))()
    collector_paused(lambda: None)()
    response.close()
    assert collections == []
    assert gc.isenabled()


def test_an_answer_never_closed_nor_freed_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer kept alive and never closed (as one caught in a reference cycle would
    be) keeps the collector paused only until HOLD_SECONDS have passed: the next call
    resumes it, and closing that answer at last changes nothing."""
    monkeypatch.setattr(collector, "HOLD_SECONDS", 0.05)
    lost = collector_paused(lambda: freed_after_answer(Response("{}"), _Held()))()
    paused_while_held = not gc.isenabled()
    time.sleep(0.1)
    collector_paused(lambda: None)()
    resumed = gc.isenabled()
    lost.close()
    assert (paused_while_held, resumed) == (True, True)
    assert gc.isenabled()
    seen = collector_paused(gc.isenabled)()  # the counts still right: paused in a call
    assert (seen, gc.isenabled()) == (False, True)


def test_no_pause_lasts_longer_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19, point 2: a call that runs on keeps the collector paused only for
    PAUSE_LIMIT_SECONDS; it then runs until the call ends, and stays on after."""
    monkeypatch.setattr(collector, "PAUSE_LIMIT_SECONDS", 0.2)
    seen: list[bool] = []

    @collector_paused
    def long_call() -> None:
        seen.append(gc.isenabled())
        deadline = time.monotonic() + 5
        while not gc.isenabled() and time.monotonic() < deadline:
            time.sleep(0.02)
        seen.append(gc.isenabled())

    long_call()
    assert seen == [False, True]
    assert gc.isenabled()
    # the next call is paused again, from its start
    assert collector_paused(gc.isenabled)() is False


class _TrickleInput:
    """A request body that sends "{" and then nothing until released."""

    def __init__(self, release: threading.Event, reading: threading.Event) -> None:
        self.release, self.reading, self.sent = release, reading, False

    def read(self, size: int = -1) -> bytes:
        if not self.sent:
            self.sent = True
            return b"{"
        self.reading.set()
        self.release.wait(10)
        return b""


def test_a_body_still_arriving_never_pauses_the_collector(tmp_path: Path) -> None:
    """Issue 19, point 2: a POST announcing 1 MB that sends "{" and waits kept the
    collector paused for the whole worker. The body is now received before the pause,
    so while it arrives the collector runs; the call then ends in a 400 (not JSON)."""
    from service.http.factory import create_app

    app = create_app({"TESTING": True, "FEEDBACK_DB": tmp_path / "feedback.sqlite3"})
    release, reading = threading.Event(), threading.Event()
    environ_body = _TrickleInput(release, reading)
    result: list[int] = []

    def post() -> None:
        environ = EnvironBuilder(
            path="/cds-services/sclc-relapse-patient-view",
            method="POST",
            content_type="application/json",
        ).get_environ()
        environ["wsgi.input"] = environ_body
        environ["CONTENT_LENGTH"] = str(1024 * 1024)
        statuses: list[str] = []
        body = app(environ, lambda status, headers, *rest: statuses.append(status))
        b"".join(body)
        result.append(int(statuses[0].split()[0]))

    thread = threading.Thread(target=post)
    thread.start()
    assert reading.wait(10), "the body was never read"
    enabled_while_receiving = gc.isenabled()
    release.set()
    thread.join(10)
    assert enabled_while_receiving
    assert result and result[0] in (400, 413)
