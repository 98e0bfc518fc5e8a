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
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["YOUNG_LIMIT", "collector_paused"]

YOUNG_LIMIT = 200_000  # container objects allocated (net) since the last collection

P = ParamSpec("P")
R = TypeVar("R")


class _Pause:
    """How many calls of this process are running, and whether to resume after them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.resume = False

    def enter(self) -> None:
        with self.lock:
            if self.running == 0:
                self.resume = gc.isenabled()
                gc.disable()
            self.running += 1

    def leave(self) -> None:
        with self.lock:
            self.running -= 1
            if self.running == 0:
                if self.resume:
                    gc.enable()
            elif gc.get_count()[0] > YOUNG_LIMIT:
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
