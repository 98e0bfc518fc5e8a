"""The cyclic garbage collector is paused while hook calls run, and only then."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from service.http.collector import collector_paused


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
