"""Reading governance documents (agreements, the policy) from YAML, strictly.

A governance document is read more strictly than YAML itself: a key given twice is an
error (YAML would silently keep the last one, so ``purpose:`` could be overridden by a
line further down that a reviewer never sees), and every validation error is located
by its dotted field path, e.g. ``match.disclose_at``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from accord.errors import InputError, Problem


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} appears twice (lines {seen[key]} and {line})",
                key_node.start_mark,
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def read_yaml(path: Path) -> Any:
    """The YAML document in ``path``, or :class:`InputError` naming the file and line."""
    if not path.is_file():
        raise InputError.single(path, "no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError.single(path, f"is not UTF-8 text: {exc.reason}") from exc
    except OSError as exc:
        raise InputError.single(path, f"cannot be read: {exc.strerror}") from exc
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = exc.problem or str(exc)
        raise InputError.single(path, f"is not valid YAML: {where}{problem}") from exc
    except yaml.YAMLError as exc:
        raise InputError.single(path, f"is not valid YAML: {exc}") from exc


def dotted(loc: tuple[int | str, ...]) -> str | None:
    """A pydantic error location as ``a.b[0].c``, without the union tags (``<...>``)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("<"):
            continue
        else:
            out += ("." if out else "") + part
    return out or None


def problems_from(error: ValidationError, file: str) -> list[Problem]:
    """One :class:`Problem` per validation error, located by dotted field path."""
    problems = []
    for e in error.errors(include_url=False):
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "is not a known field"
        elif e["type"] == "missing":
            msg = "is required"
        problems.append(Problem(file, None, dotted(e["loc"]), msg))
    return problems


def content_sha256(document: Any) -> str:
    """Digest of a document's content (canonical JSON), not of its bytes.

    Comments, key order and spacing are not content: re-saving a file without changing
    what it says does not make a new version.
    """
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
