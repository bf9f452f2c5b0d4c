"""Reviewers for command-line decisions: a decision needs a user token, not a typed name.

`accord review decide` takes the reviewer from a user token (``--token-file`` or
``ACCORD_USER_TOKEN``); these helpers add the reviewer the first time and keep a token
file for them beside the test's other files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select

from accord import identity
from accord.store import db
from accord.store.models import User


def token_file(url: str, name: str, folder: Path, role: str = "reviewer") -> Path:
    """A file holding a live token of user ``name`` (added with ``role`` if absent)."""
    with db.connect(url) as conn:
        exists = conn.scalar(select(User.username).where(User.username == name))
    if exists is None:
        identity.add_user(url, name, role)
    path = folder / f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:8]}.token"
    if not path.exists():
        path.write_text(identity.issue_token(url, name, "tests") + "\n")
    return path


def as_reviewer(url: str, name: str, folder: Path) -> list[str]:
    """The arguments that make ``name`` the reviewer of `accord review decide`."""
    return ["--token-file", str(token_file(url, name, folder))]
