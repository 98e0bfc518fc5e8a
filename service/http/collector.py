"""Python's cyclic garbage collector, paused while hook calls run.

A hook call allocates hundreds of thousands of short-lived containers (the parsed JSON
of its prefetch, the reader's values) and frees them by reference counting: they form
no cycles. The cyclic collector cannot know that: every 700 allocations it scans the
young objects, and as they pile up it scans the whole heap, so that parsing a
5,000-resource prefetch takes about three times as long with it running
(docs/PERFORMANCE.md). So it is paused while any call of this process runs and resumes
when the last one ends; under a load that never lets every call end, a young-generation
collection runs whenever more than `YOUNG_LIMIT` objects have piled up, which bounds
what cyclic garbage can wait.

Freeing a large parsed body costs a third of parsing it (docs/PERFORMANCE.md), and the
caller need not wait for it: `freed_after_answer` hands what a call read to its
response, which lets go of it when the server closes the response, after sending it
(PEP 3333: the server calls `close()` once the response is written). The collector stays
paused until then; otherwise its first young collection after the call would walk every
object of the body, still alive and all in the youngest generation.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Response

__all__ = ["YOUNG_LIMIT", "collector_paused", "freed_after_answer"]

YOUNG_LIMIT = 200_000  # container objects allocated (net) since the last collection

P = ParamSpec("P")
R = TypeVar("R")


class _Pause:
    """How many calls of this process are running, how many answers hold what their
    call read, and whether to resume after them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.holding = 0
        self.resume = False

    def enter(self, *, hold: bool = False) -> None:
        with self.lock:
            if self.running + self.holding == 0:
                self.resume = gc.isenabled()
                gc.disable()
            if hold:
                self.holding += 1
            else:
                self.running += 1

    def leave(self, *, hold: bool = False) -> None:
        with self.lock:
            if hold:
                self.holding -= 1
            else:
                self.running -= 1
            if self.running + self.holding == 0:
                if self.resume:
                    gc.enable()
            elif self.running and gc.get_count()[0] > YOUNG_LIMIT:
                # other calls still run: bound the cyclic garbage they leave waiting (an
                # answer on its way only frees, and its call's objects are all alive)
                gc.collect(1)


_PAUSE = _Pause()


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
        _PAUSE.enter(hold=True)
        self.held: tuple[object, ...] | None = held

    def __call__(self) -> None:
        held, self.held = self.held, None
        if held is not None:
            del held  # freed here, by reference counting, with the collector still paused
            _PAUSE.leave(hold=True)

    def __del__(self) -> None:
        self()


def freed_after_answer(response: Response, *held: object) -> Response:
    """`response`, holding `held` (a call's parsed body, the values read from it) until
    the server closes it, after sending it: the caller has its answer before they are
    freed (see the module docstring). Call it inside a `collector_paused` view."""
    response.call_on_close(_Release(held))
    return response
