"""Caps on what a Bulk Data export may bring, and the check of each file's bytes against
them as they are written (issue 19: a 408 KB gzip holding one 400 MB line, a
decompression bomb, an export filling the disk). Past a cap the run stops with a
one-line error naming the `sclc-cds screen --bulk-max-…` option that raises it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from service.screen.bulk_errors import BulkExportError
from service.screen.export import GZIP_MAGIC

__all__ = ["DEFAULT_LIMITS", "BulkLimits", "Inspector", "size_text"]

KiB, MiB, GiB = 2**10, 2**20, 2**30
_CHUNK = 1 << 20  # decompressed bytes at a time


@dataclass(frozen=True, slots=True)
class BulkLimits:
    """Caps on what an export may bring: past one, the run stops with a one-line error
    naming the option that raises it (`sclc-cds screen --bulk-max-…`)."""

    max_line_bytes: int = 16 * MiB  # one NDJSON line (one resource), decompressed
    max_decompressed_bytes: int = 32 * GiB  # one file, decompressed
    max_file_bytes: int = 8 * GiB  # one file as downloaded (on disk)
    max_export_bytes: int = 128 * GiB  # every file of the export on disk together


DEFAULT_LIMITS = BulkLimits()


def size_text(size: int) -> str:
    """`16777216` -> "16 MiB": a cap as a person reads it."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size:,} bytes"


class Inspector:
    """Follows one file's bytes as they are written: its size, the export's size, and,
    decompressed (gzip is recognised by its first bytes), its size and longest line."""

    def __init__(self, limits: BulkLimits, what: str, used: int) -> None:
        self.limits = limits
        self.what = what
        self.used = used  # bytes of the export's other files on disk
        self.size = 0
        self.plain = 0
        self.line = 0  # bytes of the line not yet ended
        self.head = b""  # the first bytes, until it is known whether they are gzip
        self.gzip: bool | None = None
        self.inflater = zlib.decompressobj(31)

    def refuse(self, reason: str, option: str) -> BulkExportError:
        return BulkExportError(f"{self.what}: {reason} (--bulk-max-{option})")

    def expect(self, more: int) -> None:
        """BulkExportError if `more` bytes would take the file or the export past its cap."""
        limits = self.limits
        if self.size + more > limits.max_file_bytes:
            raise self.refuse(
                f"the file is larger than {size_text(limits.max_file_bytes)}", "file-bytes"
            )
        if self.used + self.size + more > limits.max_export_bytes:
            raise self.refuse(
                f"the export is larger than {size_text(limits.max_export_bytes)}",
                "export-bytes",
            )

    def feed(self, block: bytes) -> None:
        """Check `block`, the next bytes of the file; BulkExportError past a cap."""
        self.expect(len(block))
        self.size += len(block)
        if self.gzip is None:
            self.head += block
            if len(self.head) < len(GZIP_MAGIC):
                return
            block, self.head = self.head, b""
            self.gzip = block.startswith(GZIP_MAGIC)
        if self.gzip:
            self._inflate(block)
        else:
            self._text(block)

    def _inflate(self, data: bytes) -> None:
        """Decompressed `_CHUNK` bytes at a time: a bomb never sits in memory whole."""
        pending = data
        while True:
            if self.inflater.eof:  # another gzip member follows (or may follow)
                pending = self.inflater.unused_data + pending
                if not pending:
                    return
                self.inflater = zlib.decompressobj(31)
            try:
                out = self.inflater.decompress(pending, _CHUNK)
            except zlib.error:
                raise BulkExportError(f"{self.what}: the file is not valid gzip") from None
            self._text(out)
            if self.inflater.eof:
                pending = b""
                continue
            pending = self.inflater.unconsumed_tail
            if not pending and len(out) < _CHUNK:
                return

    def _text(self, data: bytes) -> None:
        limits = self.limits
        cap = limits.max_line_bytes
        self.plain += len(data)
        if self.plain > limits.max_decompressed_bytes:
            raise self.refuse(
                f"more than {size_text(limits.max_decompressed_bytes)} decompressed",
                "decompressed-bytes",
            )
        last = data.rfind(b"\n")
        if last < 0:
            self.line += len(data)
        else:
            longest = self.line + data.find(b"\n")
            if len(data) > cap:  # lines inside the block may be longer than the cap too
                longest = max(longest, *map(len, data[:last].split(b"\n")))
            if longest > cap:
                self.line = longest
            else:
                self.line = len(data) - last - 1
        if self.line > cap:
            raise self.refuse(f"a line longer than {size_text(cap)}", "line-bytes")
