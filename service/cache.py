"""Every cache of a hook call, behind one interface and one switch.

A worker process keeps its latest assessments (`AssessmentCache`) and answers a chart it
has seen from them, recognised two ways: by the content of the request (its prefetch
byte for byte, before anything is parsed: `recall` / `remember`), or, once the reader has
planned its reading, by what it reads (`get` / `put`). `SCLC_CDS_CACHE=false` turns both
off (`AssessmentCache(size=0)`): every call is then read and evaluated afresh, with the
same answers (tests/test_cache.py). The app builds one per process
(`service.http.factory.create_app`); `service.hooks.call` is its one user in a hook call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.fhir import Fingerprint
    from service.pipeline import Assessment

__all__ = ["CACHE_SIZE", "CONTENT_BYTES", "CONTENT_BYTES_EACH", "AssessmentCache"]

# Assessments one worker process keeps (AssessmentCache): a record repeated (a chart
# opened again, a hook fired twice) within this many distinct calls is answered at once.
CACHE_SIZE = 256


# What the request-content keys of one process may hold in all (`AssessmentCache.remember`),
# and the largest one kept: a 5,000-resource prefetch serialises to about 4 MB. Past it,
# serialising the prefetch (about 1 ms a megabyte) costs more than the reader's own
# cache leaves to gain, and the call is not keyed at all.
CONTENT_BYTES = 64 * 1024 * 1024
CONTENT_BYTES_EACH = CONTENT_BYTES // 16


class AssessmentCache:
    """The latest assessments of one process, each beside what its reader read.

    A call is answered from here only when the resources it reads (the fast path's:
    `service.fhir.Selection`), its patient id, evaluation date, thresholds,
    reader warnings and card base URL are equal, value for value, to a cached call's:
    the JSON itself is compared, never a hash, so no collision can hand one patient's
    cards to another call. Bounded: the least recently used entry goes first.

    Before reading anything, a hook call may also be answered by the content of its
    request (`recall`): a key its caller builds from everything the assessment depends
    on, the prefetch among it byte for byte as sent (`service.hooks.body.sent_prefetch`),
    compared byte for byte. It costs cutting the prefetch out of the body instead of
    parsing, walking and planning it, and holds at most `CONTENT_BYTES` of keys besides
    the `size` entries.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.hits = 0
        self._entries: OrderedDict[Hashable, tuple[Fingerprint, Assessment]] = OrderedDict()
        self._contents: OrderedDict[tuple[Any, ...], tuple[int, Assessment]] = OrderedDict()
        self._content_bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._contents.clear()
            self._content_bytes = 0

    def recall(self, content: tuple[Any, ...]) -> Assessment | None:
        """The assessment remembered for a request of exactly this content, if any."""
        with self._lock:
            found = self._contents.get(content)
            if found is None:
                return None
            self._contents.move_to_end(content)
            self.hits += 1
        return found[1]

    def remember(self, content: tuple[Any, ...], size: int, assessment: Assessment) -> None:
        """Keep `assessment` for requests of this `content` (`size` bytes of key)."""
        if self.size <= 0 or size > CONTENT_BYTES_EACH:
            return
        with self._lock:
            previous = self._contents.pop(content, None)
            if previous is not None:
                self._content_bytes -= previous[0]
            self._contents[content] = (size, assessment)
            self._content_bytes += size
            while self._content_bytes > CONTENT_BYTES or len(self._contents) > self.size:
                dropped, _ = self._contents.popitem(last=False)[1]
                self._content_bytes -= dropped

    def get(self, key: Hashable, reads: Callable[[Fingerprint], bool]) -> Assessment | None:
        """The cached assessment of `key` when `reads(fingerprint)` says it read the same."""
        with self._lock:
            found = self._entries.get(key)
        if found is None or not reads(found[0]):
            return None
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
            self.hits += 1
        return found[1]

    def put(self, key: Hashable, fingerprint: Fingerprint, assessment: Assessment) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[key] = (fingerprint, assessment)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
