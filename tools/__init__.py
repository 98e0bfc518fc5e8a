"""Tools run from a checkout of the project, never shipped in the wheel or the image.

- `tools.check_knowledge`: check the knowledge base (`cards/`) against the source
  documents (`../shared/docs`); `make check-knowledge` runs it.
"""

from __future__ import annotations

__all__: list[str] = []
