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
from typing import Any, cast

import yaml
from pydantic import ValidationError

from accord.errors import InputError, Problem

# A governance document is a page or two of YAML: these bound what reading one can cost.
MAX_BYTES = 1 << 20
MAX_DEPTH = 32  # levels of nesting (an agreement has three, the policy five)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice, nesting deeper than
    ``MAX_DEPTH`` (PyYAML composes recursively: thousands of ``[`` end in a RecursionError),
    aliases (``*a``: a few lines of them expand to billions of values when the document
    is checked or hashed), and values Python cannot hold (``2025-02-30``, year 0), each
    with the line it is on."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        mark = cast(yaml.Mark, event.start_mark)
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, f"alias *{event.anchor} is not allowed: write the value out", mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # a date that is not one, a huge number
            value = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            reason = str(exc).split(":", 1)[0]  # not Python's advice on its own settings
            raise yaml.constructor.ConstructorError(
                None, None, f"{str(value)[:40]!r} cannot be read: {reason}", node.start_mark
            ) from exc


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key is a list or mapping: keys are plain values", key_node.start_mark
            ) from None
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
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError.single(path, f"is {size:,} bytes long; the limit is {MAX_BYTES:,}")
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
    except yaml.reader.ReaderError as exc:  # its text runs over two lines
        raise InputError.single(
            path,
            f"is not valid YAML: character #x{exc.character:04x} at position {exc.position} "
            "is not allowed",
        ) from exc
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError.single(path, f"is not valid YAML: {first}") from exc


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
