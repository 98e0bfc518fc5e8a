"""FHIR server URLs in one canonical form, and the allowlist check made on that form.

`normalise` is the form every request to a FHIR server is sent to and compared in
(RFC 3986 §6.2.2, syntax-based normalisation): scheme and host lower-cased, the default
port dropped, percent-encoded unreserved characters decoded (`%2e` is `.`), dot segments
resolved (`/fhir/../admin` is `/admin`), the fragment dropped. A URL that is not
http(s), names a user (`user:pass@`), has a bad port or host, or hides a separator in
its path (`%2F`, `\\`, `%25`, `..;`) is refused with ValueError: servers read those in
ways a string comparison cannot follow.

`allowed` says whether the service may send a request (and the bearer token) to a URL:
the same origin as one of the prefixes, and a path at or below the prefix's path on a
segment boundary (`https://ehr/fhir` allows `https://ehr/fhir/Patient`, not
`https://ehr/fhir-admin`).
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Iterable
from urllib.parse import SplitResult, quote, urlsplit

__all__ = ["allowed", "is_loopback", "normalise", "same_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# An encoded '/', '\' or '%', or NUL: a server that decodes them sees other segments
# than the check saw (`/fhir/x%2F..%2F..%2Fadmin`, double decoding).
_HIDDEN_SEPARATOR = re.compile(r"\\|%2F|%5C|%25|%00")
_HOST_NAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
# Every character RFC 3986 allows in a path, '%' for the escapes already there.
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"


def _decode_unreserved(hit: re.Match[str]) -> str:
    char = chr(int(hit.group(1), 16))
    return char if char in _UNRESERVED else f"%{hit.group(1).upper()}"


def _without_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 "remove_dot_segments" for an absolute path."""
    kept: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        if segment in (".", ".."):
            if segment == ".." and kept:
                kept.pop()
            if index == len(segments) - 1:
                kept.append("")  # `/a/b/..` is the folder `/a/`
        else:
            kept.append(segment)
    return "/" + "/".join(kept)


def _host(name: str) -> str:
    try:
        return f"[{ipaddress.IPv6Address(name)}]"  # one spelling of each address
    except ValueError:
        pass
    try:
        host = name.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("the URL's host is not a host name") from None
    if not _HOST_NAME.match(host):
        raise ValueError("the URL's host is not a host name")
    return host


def normalise(url: str) -> str:
    """`url` in canonical form; ValueError when no request may be sent to it."""
    if any(char <= " " or char == "\x7f" for char in url):
        raise ValueError("the URL holds spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("the URL is not http(s)")
    if "@" in parts.netloc:
        raise ValueError("the URL names a user")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    host = _host(parts.hostname)
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the URL's port is not a port") from None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if _BAD_ESCAPE.search(parts.path):
        raise ValueError("the URL's path has a broken percent-escape")
    path = _ESCAPE.sub(_decode_unreserved, quote(parts.path, safe=_PATH_SAFE))
    if _HIDDEN_SEPARATOR.search(path):
        raise ValueError("the URL's path hides a separator")
    path = _without_dot_segments(path or "/")
    # `..;x` is `..` to some servers (a path parameter after it).
    if any(segment.split(";")[0] in (".", "..") for segment in path.split("/")):
        raise ValueError("the URL's path has a dot segment with parameters")
    return f"{scheme}://{netloc}{path}" + (f"?{parts.query}" if parts.query else "")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or `localhost`: only this machine can call."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed(url: str, prefixes: Iterable[str] | None) -> bool:
    """Whether requests may go to `url`: it normalises, and it is at or below one of
    `prefixes` (same origin, path on a segment boundary); `None` allows any URL that
    normalises. A prefix that does not normalise allows nothing."""
    try:
        target = urlsplit(normalise(url))
    except ValueError:
        return False
    return prefixes is None or any(_under(target, prefix) for prefix in prefixes)


def _under(target: SplitResult, prefix: str) -> bool:
    try:
        base = urlsplit(normalise(prefix))
    except ValueError:
        return False
    if (target.scheme, target.netloc) != (base.scheme, base.netloc):
        return False
    root = base.path.rstrip("/")
    return target.path == root or target.path.startswith(f"{root}/")


def same_url(first: str, second: str) -> bool:
    """Whether two URLs name the same place once normalised (a trailing slash aside)."""
    try:
        return normalise(first).rstrip("/") == normalise(second).rstrip("/")
    except ValueError:
        return False
