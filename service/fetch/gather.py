"""Gathering a hook call's data: each prefetch key from the request when it is there,
the rest from the FHIR server (`FhirClient`), the keys concurrently within the call's
budget ("Prefetch Template": a key that holds an OperationOutcome counts as missing, a
`null` key means the client has no data). Data missing with no usable server raises
`PrefetchUnavailable` (HTTP 412), with the same message whatever the server did.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Any

from service.errors import InputError, PrefetchUnavailable
from service.fetch.client import (
    MAX_THREADS,
    Fetched,
    FhirClient,
    Unusable,
    is_operation_outcome,
    log,
    next_link,
)
from service.fetch.templates import render_template
from service.fhir.load import RawResource, resources_from_json

__all__ = ["Gathered", "gather"]

# After the deadline, how long the call waits for its requests to notice and hand over
# the pages they read; the call answers within budget + this + its own work.
_GRACE_SECONDS = 0.25


def _is_read_of(given: Any, query: str) -> bool:
    """A prefetched read (`Patient/123`) must be that very resource (CLINICAL_RULES §1:
    another patient's record is never evaluated in place of the one named); searches
    and anything else pass."""
    kind, slash, ident = query.partition("/")
    if not slash or "?" in query or "/" in ident or not isinstance(given, Mapping):
        return True
    return given.get("resourceType") == kind and given.get("id") == ident


@dataclass(frozen=True, slots=True)
class Gathered:
    """The resources of every prefetch key, whichever way each arrived."""

    resources: tuple[RawResource, ...]
    warnings: tuple[str, ...]
    # Whether a key was read from the FHIR server: when not, what was gathered depends on
    # nothing but the prefetch and the rendered templates.
    fetched: bool = False


def _deduplicated(resources: Iterable[RawResource]) -> tuple[RawResource, ...]:
    """One copy of each `Type/id` (pages and keys may overlap)."""
    seen: set[tuple[str, str]] = set()
    kept: list[RawResource] = []
    for raw in resources:
        ident = raw.resource.get("id")
        if ident.__class__ is str and ident:
            # a type that is no string (hostile JSON) is never hashed, only written out
            kind = raw.resource.get("resourceType")
            key = (kind if kind.__class__ is str else repr(kind), ident)
            if key in seen:
                continue
            seen.add(key)
        kept.append(raw)
    return tuple(kept)


def gather(
    templates: Mapping[str, str],
    *,
    prefetch: Mapping[str, Any],
    context: Mapping[str, Any],
    client: FhirClient | None,
) -> Gathered:
    """The data of every template: from `prefetch` when given, else from `client`, the
    keys fetched concurrently within the client's budget.

    Raises PrefetchUnavailable (412) when a key is missing (absent, or an
    OperationOutcome) or paged, and `client` is None or cannot answer it in time; the
    message is the same whatever the server did.
    """
    documents: dict[str, Fetched] = {}
    jobs: dict[str, Callable[[], Fetched]] = {}
    for key, template in templates.items():
        given = prefetch.get(key)
        if (
            key in prefetch
            and not is_operation_outcome(given)
            and ("?" in template or _is_read_of(given, render_template(template, context)))
        ):
            if given is None:  # the client has no data for this key
                continue
            if not isinstance(given, dict) or not isinstance(given.get("resourceType"), str):
                raise InputError(f"prefetch '{key}' is neither a FHIR resource nor null")
            if given.get("resourceType") != "Bundle" or next_link(given) is None:
                documents[key] = Fetched(given)
            elif client is None:
                raise PrefetchUnavailable(
                    f"prefetch '{key}' has more pages and the request names no fhirServer"
                )
            else:
                jobs[key] = partial(client.complete, given)
            continue
        if client is None:
            raise PrefetchUnavailable(
                f"prefetch '{key}' is missing and the request names no fhirServer"
            )
        jobs[key] = partial(client.fetch, render_template(template, context))
    if jobs and client is not None:
        documents.update(_fetch_all(jobs, client))
    resources: list[RawResource] = []
    warnings: list[str] = []
    for key in templates:
        result = documents.get(key)
        if result is None:
            continue
        if result.cut_short is not None:
            warnings.append(
                f"prefetch '{key}': read the first {result.pages} pages only ({result.cut_short})"
            )
        found, more = resources_from_json(result.document, origin=f"prefetch '{key}'")
        resources.extend(found)
        warnings.extend(more)
    return Gathered(
        resources=_deduplicated(resources), warnings=tuple(warnings), fetched=bool(jobs)
    )


def _fetch_all(jobs: Mapping[str, Callable[[], Fetched]], client: FhirClient) -> dict[str, Fetched]:
    """Every job's result, the jobs run concurrently until the deadline or the first
    failure. At the deadline the requests still running are cut (`client.stop`) and get
    a short grace to hand over the pages they read.

    PrefetchUnavailable names the first key (in template order) without data, whatever
    happened to it, so the message does not depend on how the server failed; the log
    line names the key that failed by itself first and the error class.
    """
    pool = ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(jobs)), thread_name_prefix="fhir")
    futures = {key: pool.submit(job) for key, job in jobs.items()}
    try:
        done, running = wait(
            futures.values(), timeout=max(0.0, client.remaining()), return_when=FIRST_EXCEPTION
        )
        if running and not any(future.exception() for future in done):  # out of time
            client.stop()
            done, _ = wait(futures.values(), timeout=_GRACE_SECONDS)
    finally:
        client.stop()  # nothing of this call goes on reading once it answers
        pool.shutdown(wait=False, cancel_futures=True)
    results: dict[str, Fetched] = {}
    failures: dict[str, str] = {}
    for key, future in futures.items():
        if future not in done:
            failures[key] = "budget"
        elif isinstance(error := future.exception(), Unusable):
            failures[key] = error.reason
        elif error is not None:
            raise error  # a bug of ours: the app's 500, not a 412
        else:
            results[key] = future.result()
    if failures:
        missing = next(iter(failures))
        cause = next((k for k, why in failures.items() if why != "budget"), missing)
        log.warning(
            json.dumps({"event": "fhir-unusable", "prefetch": cause, "error": failures[cause]})
        )
        raise PrefetchUnavailable(f"the FHIR server could not be used for prefetch '{missing}'")
    return results
