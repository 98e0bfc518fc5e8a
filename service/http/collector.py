"""Python's cyclic garbage collector, paused while hook calls run.

A hook call allocates hundreds of thousands of short-lived containers (the parsed JSON
of its prefetch, the reader's values) and frees them by reference counting: they form
no cycles. The cyclic collector cannot know that: every 700 allocations it scans the
young objects, and as they pile up it scans the whole heap, so that parsing a
5,000-resource prefetch takes about three times as long with it running
(docs/PERFORMANCE.md). So it is paused while any call of this process runs and resumes
when the last one ends; under a load that never lets every call end, a young-generation
collection runs whenever more than `YOUNG_LIMIT` objects have piled up, which bounds
what cyclic garbage can wait. The pause covers the computing only: a call's body is
received before it begins (a client sending one byte a second never holds it), and no
pause lasts longer than `PAUSE_LIMIT_SECONDS`, whatever the calls do.

Freeing a large parsed body costs a third of parsing it (docs/PERFORMANCE.md), and the
caller need not wait for it: `freed_after_answer` hands what a call read to its
response, which lets go of it when the server closes the response, after sending it
(PEP 3333: the server calls `close()` once the response is written). The collector stays
paused until then; otherwise its first young collection after the call would walk every
object of the body, still alive and all in the youngest generation. An answer neither
closed nor freed within `HOLD_SECONDS` (caught in a reference cycle, which only the
collector could free) is given up on, so that it cannot keep the collector paused.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

from flask import Response

__all__ = [
    "HOLD_SECONDS",
    "PAUSE_LIMIT_SECONDS",
    "YOUNG_LIMIT",
    "collector_paused",
    "freed_after_answer",
    "paused_collector",
]

YOUNG_LIMIT = 200_000  # container objects allocated (net) since the last collection
# An answer holding its call's objects longer than this is taken as lost (see `_Pause`).
HOLD_SECONDS = 60.0
# No pause lasts longer: then the collector resumes until every call has ended.
PAUSE_LIMIT_SECONDS = 10.0

P = ParamSpec("P")
R = TypeVar("R")


class _Pause:
    """How many calls of this process are running, which answers hold what their call
    read (since when), and whether to resume after them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.holds: dict[int, float] = {}  # id of a `_Release` -> when it began to hold
        self.resume = False
        self.epoch = 0  # counts pauses, so that a late limit timer ends only its own
        self.timer: threading.Timer | None = None

    def enter(self, *, hold: object | None = None) -> None:
        with self.lock:
            self._give_up_old_holds()
            if self.running + len(self.holds) == 0:
                self.resume = gc.isenabled()
                gc.disable()
                self.epoch += 1
                if self.resume:
                    self.timer = threading.Timer(
                        PAUSE_LIMIT_SECONDS, self._limit_reached, args=(self.epoch,)
                    )
                    self.timer.daemon = True
                    self.timer.start()
            if hold is not None:
                self.holds[id(hold)] = time.monotonic()
            else:
                self.running += 1

    def leave(self, *, hold: object | None = None) -> None:
        with self.lock:
            if hold is None:
                self.running -= 1
            elif self.holds.pop(id(hold), None) is None:
                return  # given up on already (`HOLD_SECONDS`)
            self._give_up_old_holds()
            if self.running + len(self.holds) == 0:
                self._end_pause()
            elif self.running and gc.get_count()[0] > YOUNG_LIMIT:
                # other calls still run: bound the cyclic garbage they leave waiting (an
                # answer on its way only frees, and its call's objects are all alive)
                gc.collect(1)

    def _end_pause(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.resume:
            gc.enable()
        self.resume = False

    def _limit_reached(self, epoch: int) -> None:
        """`PAUSE_LIMIT_SECONDS` into pause `epoch`: the collector resumes for the rest of it."""
        with self.lock:
            if epoch == self.epoch and self.resume and self.running + len(self.holds):
                self.resume = False  # the calls still running find it running
                self.timer = None
                gc.enable()

    def _give_up_old_holds(self) -> None:
        """An answer never closed nor freed (caught in a reference cycle, which only the
        paused collector could free) must not keep the collector paused for good."""
        now = time.monotonic()
        old = [key for key, since in self.holds.items() if now - since > HOLD_SECONDS]
        for key in old:
            del self.holds[key]
        if old and self.running + len(self.holds) == 0:
            self._end_pause()  # the pause they held ends here


_PAUSE = _Pause()


@contextlib.contextmanager
def paused_collector() -> Iterator[None]:
    """The collector paused for what runs inside (see the module docstring)."""
    _PAUSE.enter()
    try:
        yield
    finally:
        _PAUSE.leave()


def collector_paused(view: Callable[P, R]) -> Callable[P, R]:
    """`view`, run with the cyclic collector paused (see the module docstring)."""

    @functools.wraps(view)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        _PAUSE.enter()
        try:
            return view(*args, **kwargs)
        finally:
            _PAUSE.leave()

    return run


class _Release:
    """What a call read, held until its response is closed (or dropped unclosed, as a
    test client may): the collector is paused until then."""

    __slots__ = ("held",)

    def __init__(self, held: tuple[object, ...]) -> None:
        self.held: tuple[object, ...] | None = held
        _PAUSE.enter(hold=self)

    def __call__(self) -> None:
        held, self.held = self.held, None
        if held is not None:
            del held  # freed here, by reference counting, with the collector still paused
            _PAUSE.leave(hold=self)

    def __del__(self) -> None:
        self()


def freed_after_answer(response: Response, *held: object) -> Response:
    """`response`, holding `held` (a call's parsed body, the values read from it) until
    the server closes it, after sending it: the caller has its answer before they are
    freed (see the module docstring). Call it inside a `collector_paused` view."""
    response.call_on_close(_Release(held))
    return response
