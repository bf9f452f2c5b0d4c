"""The SHA-256 of a file's bytes, read in blocks of 1 MiB.

What a run records of each input it read (`accord.cycle`) and what a linkage model records
of the register it learned from (`accord.linkage.store`), so both name a file the same way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of everything in ``path``."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
