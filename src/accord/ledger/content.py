"""The canonical bytes of a ledger leaf: what was disclosed or recalled, to whom, when,
and which changes to automation two people approved (``governance``).

A leaf must be rebuilt byte for byte from the database row it stands for, years later,
on either backend, so the encoding admits one spelling of each value: UTF-8 JSON with
sorted keys and no insignificant whitespace; datetimes in UTC as
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (a naive datetime, which is what SQLite gives back for a
``DateTime(timezone=True)`` column, is taken to be UTC); floats as their shortest
round-tripping decimal (Python's ``repr``), never NaN or infinity; ``fields`` as the JSON
object the recipient received, with string keys only (an integer key would change order
once the database turned it into a string).

Callers must store UTC datetimes: SQLite keeps the wall-clock time of an aware datetime
and drops its offset, so a non-UTC time would read back as a different instant.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

DISCLOSURE_FIELDS = (
    "disclosure_id",
    "agreement_id",
    "agreement_version",
    "recipient",
    "record_id",
    "person_id",
    "fields",
    "match_probability",
    "decided_by",
    "disclosed_at",
)
RECALL_FIELDS = ("recall_id", "disclosure_id", "recipient", "person_id", "reason", "recalled_at")
# An approved proposal (accord.linkage.proposals): what changed, on what evidence, who
# approved it and when.  ``agreement_version`` is the version the change made (NULL for a
# model), ``model_id`` the model made current (NULL for a trusted pattern).
GOVERNANCE_FIELDS = (
    "proposal_id",
    "kind",
    "register",
    "agreement_id",
    "agreement_version",
    "pattern",
    "model_id",
    "labels",
    "wrong",
    "wrong_upper_per_10000",
    "approved_by",
    "approved_at",
)
KINDS = ("disclosure", "recall", "governance")

_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)
# The same string escaping the encoder above applies (ensure_ascii=False).
_string: Callable[[str], str] = json.encoder.encode_basestring
# The C encoder behind ``_encoder``, made once: sorted keys, compact, no NaN.  Used for
# flat ``fields`` objects, whose keys and values are checked first (see `_fields`).
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_flat_encoder: Callable[[Any, int], Any] | None = (
    _c_make_encoder(None, None, _string, None, ":", ",", True, False, False)
    if _c_make_encoder is not None
    else None
)
_FLAT_TYPES = frozenset({str, int, float, bool, type(None)})
_STR_ONLY = frozenset({str})


# Keys in sorted order (the canonical form); %s slots take already-encoded JSON values.
_DISCLOSURE_TEMPLATE = (
    '{"agreement_id":%s,"agreement_version":%s,"decided_by":%s,"disclosed_at":"%s",'
    '"disclosure_id":%s,"fields":%s,"match_probability":%s,"person_id":%s,"recipient":%s,'
    '"record_id":%s,"type":"disclosure"}'
)
_RECALL_TEMPLATE = (
    '{"disclosure_id":%s,"person_id":%s,"reason":%s,"recall_id":%s,"recalled_at":"%s",'
    '"recipient":%s,"type":"recall"}'
)


def _getter(row: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    if isinstance(row, Mapping):
        return tuple(row[n] for n in names)
    mapping = getattr(row, "_mapping", None)  # sqlalchemy Row
    if mapping is not None:
        return tuple(mapping[n] for n in names)
    return tuple(getattr(row, n) for n in names)


def utc_iso(value: dt.datetime) -> str:
    """A datetime as UTC ISO-8601 with microseconds and ``Z``; naive means UTC."""
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    tz = value.tzinfo
    if tz is not None and tz is not dt.UTC:
        offset = value.utcoffset()
        if offset:
            value = value - offset
    # isoformat is YYYY-MM-DDTHH:MM:SS.ffffff, then any offset, which UTC makes "+00:00".
    return value.isoformat(timespec="microseconds")[:26] + "Z"


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text, got {type(value).__name__}")
    return _string(value)


def _integer(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    return int.__repr__(value)


def _probability(value: Any) -> str:
    if type(value) is float and value - value == 0.0:  # finite
        return float.__repr__(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"match_probability must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"match_probability must be finite, got {number!r}")
    return float.__repr__(number)


def _check_json(value: Any, where: str) -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} must be finite, got {value!r}")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a key {key!r} that is not text")
            _check_json(item, f"{where}.{key}")
        return
    raise TypeError(f"{where} holds a {type(value).__name__}, which JSON cannot carry exactly")


def _scalar(value: Any, key: str) -> str:
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0.0:
        return float.__repr__(value)
    _check_json(value, f"fields.{key}")
    return _encoder.encode(value)


def _fields(value: Any) -> str:
    """``fields`` as the canonical encoder would write it; flat objects take a fast path."""
    if (
        _flat_encoder is not None
        and type(value) is dict
        and set(map(type, value)) <= _STR_ONLY
        and set(map(type, value.values())) <= _FLAT_TYPES
    ):
        return "".join(_flat_encoder(value, 0))  # raises ValueError for NaN or infinity
    if not isinstance(value, dict):
        raise TypeError(f"fields must be a JSON object, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"fields has a key {key!r} that is not text")
    items = sorted(value.items())
    return "{" + ",".join([_string(k) + ":" + _scalar(v, k) for k, v in items]) + "}"


def disclosure_bytes(
    disclosure_id: Any,
    agreement_id: Any,
    agreement_version: Any,
    recipient: Any,
    record_id: Any,
    person_id: Any,
    fields: Any,
    match_probability: Any,
    decided_by: Any,
    disclosed_at_utc: str,
) -> bytes:
    """The leaf bytes of a disclosure whose time is already spelled by :func:`utc_iso`."""
    if (
        type(disclosure_id) is str
        and type(agreement_id) is str
        and type(recipient) is str
        and type(record_id) is str
        and type(person_id) is str
        and type(decided_by) is str
        and type(agreement_version) is int
        and type(match_probability) is float
        and match_probability - match_probability == 0.0  # finite
    ):  # the common case, checked at once
        values = (
            _string(agreement_id),
            int.__repr__(agreement_version),
            _string(decided_by),
            disclosed_at_utc,
            _string(disclosure_id),
            _fields(fields),
            float.__repr__(match_probability),
            _string(person_id),
            _string(recipient),
            _string(record_id),
        )
    else:
        values = (
            _text(agreement_id, "agreement_id"),
            _integer(agreement_version, "agreement_version"),
            _text(decided_by, "decided_by"),
            disclosed_at_utc,
            _text(disclosure_id, "disclosure_id"),
            _fields(fields),
            _probability(match_probability),
            _text(person_id, "person_id"),
            _text(recipient, "recipient"),
            _text(record_id, "record_id"),
        )
    return (_DISCLOSURE_TEMPLATE % values).encode("utf-8")


def recall_bytes(
    recall_id: Any,
    disclosure_id: Any,
    recipient: Any,
    person_id: Any,
    reason: Any,
    recalled_at_utc: str,
) -> bytes:
    """The leaf bytes of a recall whose time is already spelled by :func:`utc_iso`."""
    return (
        _RECALL_TEMPLATE
        % (
            _text(disclosure_id, "disclosure_id"),
            _text(person_id, "person_id"),
            _text(reason, "reason"),
            _text(recall_id, "recall_id"),
            recalled_at_utc,
            _text(recipient, "recipient"),
        )
    ).encode("utf-8")


def _optional(value: Any, name: str, check: Callable[[Any, str], str]) -> str:
    return "null" if value is None else check(value, name)


def _finite(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number!r}")
    return float.__repr__(number)


def governance_bytes(
    proposal_id: Any,
    kind: Any,
    register: Any,
    agreement_id: Any,
    agreement_version: Any,
    pattern: Any,
    model_id: Any,
    labels: Any,
    wrong: Any,
    wrong_upper_per_10000: Any,
    approved_by: Any,
    approved_at_utc: str,
) -> bytes:
    """The leaf bytes of an approved proposal whose time is spelled by :func:`utc_iso`."""
    values = {
        "agreement_id": _optional(agreement_id, "agreement_id", _text),
        "agreement_version": _optional(agreement_version, "agreement_version", _integer),
        "approved_at": '"' + approved_at_utc + '"',
        "approved_by": _text(approved_by, "approved_by"),
        "kind": _text(kind, "kind"),
        "labels": _integer(labels, "labels"),
        "model_id": _optional(model_id, "model_id", _integer),
        "pattern": _optional(pattern, "pattern", _text),
        "proposal_id": _text(proposal_id, "proposal_id"),
        "register": _text(register, "register"),
        "type": '"governance"',
        "wrong": _integer(wrong, "wrong"),
        "wrong_upper_per_10000": _optional(wrong_upper_per_10000, "wrong_upper_per_10000", _finite),
    }
    return ("{" + ",".join(f'"{k}":{v}' for k, v in sorted(values.items())) + "}").encode()


def _timed(row: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    """A row's values of ``names``, the last (its time) spelled by :func:`utc_iso`: the
    arguments of the kind's ``*_bytes``, whose parameters the ``*_FIELDS`` name in order."""
    values = _getter(row, names)
    return (*values[:-1], utc_iso(values[-1]))


def governance_leaf(row: Any) -> bytes:
    """Canonical leaf content of an approved proposal (ORM object, Row or mapping)."""
    return governance_bytes(*_timed(row, GOVERNANCE_FIELDS))


def disclosure_leaf(row: Any) -> bytes:
    """Canonical leaf content of a disclosure; ``row`` is an ORM object, a Row or a mapping."""
    return disclosure_bytes(*_timed(row, DISCLOSURE_FIELDS))


def recall_leaf(row: Any) -> bytes:
    """Canonical leaf content of a recall; ``row`` is an ORM object, a Row or a mapping."""
    return recall_bytes(*_timed(row, RECALL_FIELDS))


def canonical(doc: Any) -> bytes:
    """Any JSON document in the ledger's canonical form (used to check a proof's content)."""
    return _encoder.encode(doc).encode("utf-8")


def describe(content: bytes) -> tuple[str, str] | None:
    """``(kind, id)`` named by a leaf's content, or None if it is not a canonical leaf."""
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    kind = doc.get("type")
    expected = {
        "disclosure": DISCLOSURE_FIELDS,
        "recall": RECALL_FIELDS,
        "governance": GOVERNANCE_FIELDS,
    }.get(kind if isinstance(kind, str) else "", ())
    if kind not in KINDS or set(doc) != {"type", *expected}:
        return None
    ident = doc.get("proposal_id" if kind == "governance" else f"{kind}_id")
    if not isinstance(ident, str):
        return None
    try:
        if canonical(doc) != content:
            return None
    except ValueError:
        return None
    return kind, ident
