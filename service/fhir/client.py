"""Fetch what a CDS client did not prefetch from its FHIR server (CDS Hooks 2.0.1).

- `render_template` fills a prefetch template's tokens from the hook context
  ("Prefetch tokens").
- `FhirClient` reads (`GET Type/id`) and searches (`POST Type/_search`, falling back to
  `GET Type?…`), following `Bundle.link[next]` up to a page cap, with the
  `fhirAuthorization` bearer token and connect/read timeouts ("FHIR Resource Access").
- `gather` takes each prefetch key from the request when it is there and fetches the
  rest; a key that holds an OperationOutcome counts as missing, a `null` key means the
  client has no data ("Prefetch Template"). Data missing with no usable server raises
  `PrefetchUnavailable` (HTTP 412).

Messages name prefetch keys and HTTP statuses, never URLs, ids or tokens: they reach
the caller as OperationOutcome diagnostics and the log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import requests

from service.errors import InputError, PrefetchUnavailable
from service.fhir.load import RawResource, resources_from_json

__all__ = [
    "DEFAULT_PAGE_CAP",
    "DEFAULT_TIMEOUTS",
    "FhirClient",
    "Fetched",
    "Gathered",
    "SessionFactory",
    "Timeouts",
    "gather",
    "render_template",
]

# A child of the service's JSON log (service.http.log): the message is a JSON object.
log = logging.getLogger("sclc_cds.fhir")

SessionFactory = Callable[[], requests.Session]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for a connection and then for each read from the FHIR server."""

    connect: float = 3.05
    read: float = 10.0


DEFAULT_TIMEOUTS = Timeouts()
# A patient's searchset rarely needs more than a few pages of a server's default size;
# the cap bounds the time one hook call can spend paging.
DEFAULT_PAGE_CAP = 20

# "Prefetch tokens": `{{context.<root-level field>}}` and the four user identifiers.
_TOKEN = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
_READ = re.compile(r"^([A-Z][A-Za-z]+)/([^/?]+)$")
_SEARCH = re.compile(r"^([A-Z][A-Za-z]+)(?:\?(.*))?$")
# A server that does not take `POST _search` answers one of these; GET is tried then.
_NO_POST_SEARCH = frozenset({404, 405, 501})
_FHIR_JSON = "application/fhir+json, application/json;q=0.9"


def _token_value(name: str, context: Mapping[str, Any]) -> str:
    if name.startswith("context."):
        field = name.removeprefix("context.")
        value = context.get(field)
        if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
            raise InputError(f"prefetch token {{{{{name}}}}} needs a value in context.{field}")
        return str(value)
    if name in _USER_TOKENS:
        user = context.get("userId")
        kind, _, ident = user.partition("/") if isinstance(user, str) else ("", "", "")
        if kind != _USER_TOKENS[name] or not ident:
            raise InputError(f"prefetch token {{{{{name}}}}} needs a {_USER_TOKENS[name]} userId")
        return ident
    raise InputError(f"prefetch token {{{{{name}}}}} is not a CDS Hooks prefetch token")


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """The relative FHIR URL of a prefetch template, its tokens filled from `context`.

    Values are percent-encoded except `/` (a `{{context.userId}}` read is `Type/id`).
    Raises InputError naming the token when the context has no usable value for it.
    """
    return _TOKEN.sub(lambda hit: quote(_token_value(hit.group(1), context), safe="/"), template)


def _is_read_of(given: Any, query: str) -> bool:
    """A prefetched read (`Patient/123`) must be that very resource (CLINICAL_RULES §1:
    another patient's record is never evaluated in place of the one named); searches
    and anything else pass."""
    kind, slash, ident = query.partition("/")
    if not slash or "?" in query or "/" in ident or not isinstance(given, Mapping):
        return True
    return given.get("resourceType") == kind and given.get("id") == ident


def _is_operation_outcome(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


def _entries(bundle: Mapping[str, Any]) -> list[Any]:
    entries = bundle.get("entry") or []
    return list(entries) if isinstance(entries, list) else []


class _Refused(PrefetchUnavailable):
    """The FHIR server answered an HTTP error status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the FHIR server answered HTTP {status}")
        self.status_code = status


@dataclass(frozen=True, slots=True)
class Fetched:
    """A read's resource, or a search's Bundle holding the entries of every page read.

    `capped_at` is the number of pages read when the page cap stopped the paging.
    """

    document: dict[str, Any]
    capped_at: int | None = None


class FhirClient:
    """A CDS client's FHIR server, on behalf of one hook call.

    The session is the caller's (tests inject their own); the client never closes it.
    `requests_made` counts HTTP requests, for the hook's log line.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        session: requests.Session,
        page_cap: int = DEFAULT_PAGE_CAP,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = urlsplit(self.base_url)[:2]
        self._headers = {"Accept": _FHIR_JSON}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session = session
        self._page_cap = max(1, page_cap)
        self._timeouts = (timeouts.connect, timeouts.read)
        self.requests_made = 0

    def _send(self, method: str, url: str, *, data: Any = None) -> dict[str, Any]:
        self.requests_made += 1
        try:
            response = self._session.request(
                method, url, headers=self._headers, data=data, timeout=self._timeouts
            )
        except requests.ReadTimeout:
            raise PrefetchUnavailable(
                f"the FHIR server did not answer within {self._timeouts[1]:g} s"
            ) from None
        except requests.RequestException as error:
            raise PrefetchUnavailable(
                f"the FHIR server could not be reached ({error.__class__.__name__})"
            ) from None
        if response.status_code >= 400:
            raise _Refused(response.status_code)
        try:
            document = response.json()
        except ValueError:
            raise PrefetchUnavailable("the FHIR server's answer is not JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
            raise PrefetchUnavailable("the FHIR server's answer is not a FHIR resource")
        if _is_operation_outcome(document):
            raise PrefetchUnavailable("the FHIR server answered with an OperationOutcome")
        return document

    def _search(self, kind: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        """The first page: `POST Type/_search` (keeps the patient id out of URLs)."""
        try:
            return self._send("POST", f"{self.base_url}/{kind}/_search", data=params)
        except _Refused as error:
            if error.status_code not in _NO_POST_SEARCH:
                raise
        return self._send("GET", f"{self.base_url}/{kind}?{_encode(params)}")

    def read(self, query: str) -> Fetched:
        """The resource a `Type/id` read names."""
        return Fetched(self._send("GET", f"{self.base_url}/{query}"))

    def get_bundle(self, query: str) -> Fetched:
        """The searchset of a `Type?params` search, every page's entries in one Bundle."""
        hit = _SEARCH.match(query)
        if hit is None:
            raise PrefetchUnavailable("a prefetch template is neither a FHIR read nor a search")
        first = self._search(hit.group(1), parse_qsl(hit.group(2) or "", keep_blank_values=True))
        return self.complete(first)

    def fetch(self, query: str) -> Fetched:
        """A read or a search, whichever the relative URL is."""
        return self.read(query) if _READ.match(query) else self.get_bundle(query)

    def complete(self, bundle: dict[str, Any]) -> Fetched:
        """`bundle` with the entries of its following pages (`link[next]`), up to the cap.

        Next links must stay on the FHIR server's origin: the bearer token goes nowhere
        else. Reaching the cap is logged and reported in `capped_at`, not an error.
        """
        if bundle.get("resourceType") != "Bundle":
            raise PrefetchUnavailable("the FHIR server answered a search without a Bundle")
        entries = _entries(bundle)
        page, pages = bundle, 1
        while (url := _next_link(page)) is not None:
            if pages >= self._page_cap:
                log.warning('{"event": "fhir-page-cap", "pages": %d}', pages)
                return Fetched({**bundle, "entry": entries, "link": []}, capped_at=pages)
            if urlsplit(url)[:2] != self._origin:
                raise PrefetchUnavailable("the FHIR server's next page is on another server")
            page = self._send("GET", url)
            if page.get("resourceType") != "Bundle":
                raise PrefetchUnavailable("the FHIR server answered a page without a Bundle")
            entries.extend(_entries(page))
            pages += 1
        return Fetched({**bundle, "entry": entries, "link": []})


def _encode(params: list[tuple[str, str]]) -> str:
    return urlencode(params, safe=",|:/")


@dataclass(frozen=True, slots=True)
class Gathered:
    """The resources of every prefetch key, whichever way each arrived."""

    resources: tuple[RawResource, ...]
    warnings: tuple[str, ...]


def _deduplicated(resources: Iterable[RawResource]) -> tuple[RawResource, ...]:
    """One copy of each `Type/id` (pages and keys may overlap)."""
    seen: set[str] = set()
    kept: list[RawResource] = []
    for raw in resources:
        kind, ident = raw.resource.get("resourceType"), raw.resource.get("id")
        key = f"{kind}/{ident}" if isinstance(ident, str) and ident else None
        if key is not None and key in seen:
            continue
        if key is not None:
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
    """The data of every template: from `prefetch` when given, else from `client`.

    Raises PrefetchUnavailable (412) when a key is missing (absent, or an
    OperationOutcome) or paged, and `client` is None or cannot answer.
    """
    documents: list[tuple[str, Fetched]] = []
    warnings: list[str] = []
    for key, template in templates.items():
        given = prefetch.get(key)
        if (
            key in prefetch
            and not _is_operation_outcome(given)
            and ("?" in template or _is_read_of(given, render_template(template, context)))
        ):
            if given is None:  # the client has no data for this key
                continue
            if not isinstance(given, dict) or not isinstance(given.get("resourceType"), str):
                raise InputError(f"prefetch '{key}' is neither a FHIR resource nor null")
            paged = given.get("resourceType") == "Bundle" and _next_link(given) is not None
            documents.append((key, _complete(key, given, client) if paged else Fetched(given)))
            continue
        if client is None:
            raise PrefetchUnavailable(
                f"prefetch '{key}' is missing and the request names no fhirServer"
            )
        query = render_template(template, context)
        try:
            documents.append((key, client.fetch(query)))
        except PrefetchUnavailable as error:
            raise PrefetchUnavailable(f"prefetch '{key}' is missing and {error}") from None
    resources: list[RawResource] = []
    for key, result in documents:
        if result.capped_at is not None:
            warnings.append(
                f"prefetch '{key}': read the first {result.capped_at} pages only (page cap)"
            )
        found, more = resources_from_json(result.document, origin=f"prefetch '{key}'")
        resources.extend(found)
        warnings.extend(more)
    return Gathered(resources=_deduplicated(resources), warnings=tuple(warnings))


def _complete(key: str, bundle: dict[str, Any], client: FhirClient | None) -> Fetched:
    if client is None:
        raise PrefetchUnavailable(
            f"prefetch '{key}' has more pages and the request names no fhirServer"
        )
    try:
        return client.complete(bundle)
    except PrefetchUnavailable as error:
        raise PrefetchUnavailable(f"prefetch '{key}' has more pages and {error}") from None
