"""Reviewers' decisions on matches, read as clerical labels, and what they say.

Every settled review item about a match is a label: approved means the record is the
person's (the reviewer let the disclosure go ahead), rejected means it is not.  Items
whose only reason was ``long_residence`` asked about residence, not identity, so they
are not labels.  A pair reviewed under several agreements is one label: the same person
only if every item about it was approved.  A rejection of an item that was also about
long residence counts as "not the same person", which can only make precision look
worse than it is, never better.

The figures are precision with Wilson 95% intervals (``accord.audit.wilson``) for each
probability band and each agreement pattern (the level reached in each comparison,
``matches.evidence.pattern``), and the upper bound of wrong matches per 10,000 among
labels in the automatic band.  Labels come from what reviewers were shown, which is not
a random sample: items reach review because something was uncertain, so a band's figure
describes the pairs reviewed in it (docs/linkage.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
from sqlalchemy import Connection

from accord.audit import wilson
from accord.store.models import AgreementVersion, versions_in_force
from accord.store.transfer import read_arrow
from accord.vocab import MATCH_KINDS, AgreementStatus, ItemStatus, Reason, sql_in, sql_word

SAME = ItemStatus.APPROVED  # item status meaning "the record is the person's"
NOT_SAME = ItemStatus.REJECTED

# Probability bands: (label, lower bound inclusive, upper bound exclusive or None).
BANDS: tuple[tuple[str, float, float | None], ...] = (
    ("below 0.9", 0.0, 0.9),
    ("0.9 to 0.99", 0.9, 0.99),
    ("0.99 to 0.999", 0.99, 0.999),
    ("0.999 to 0.9999", 0.999, 0.9999),
    ("0.9999 and above", 0.9999, None),
)
# Reasons that question only whether the record is the person's (a label can make a
# pattern trusted only if it was sent to review for these alone).
IDENTITY_ONLY = (Reason.UNCERTAIN_MATCH, Reason.UNCORROBORATED_MATCH)

_TYPES: dict[str, pa.DataType] = {
    "item_id": pa.string(),
    "agreement_id": pa.string(),
    "kind": pa.string(),
    "status": pa.string(),
    "detail": pa.string(),
    "closed_at": pa.string(),
    "match_id": pa.int64(),
    "register": pa.string(),
    "person_id": pa.string(),
    "record_id": pa.string(),
    "match_probability": pa.float64(),
    "evidence": pa.string(),
}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _items_sql(register: str | None, agreement_id: str | None) -> str:
    """The labelled items, with ``:register`` and ``:agreement_id`` to bind when given."""
    where = [f"r.kind IN {sql_in(MATCH_KINDS)}", f"r.status IN {sql_in((SAME, NOT_SAME))}"]
    if register is not None:
        where.append("m.register = :register")
    if agreement_id is not None:
        where.append("r.agreement_id = :agreement_id")
    return (
        "SELECT r.item_id, r.agreement_id, r.kind, r.status, CAST(r.detail AS TEXT), "
        "CAST(r.closed_at AS TEXT), m.id, m.register, m.person_id, m.record_id, "
        "m.match_probability, CAST(m.evidence AS TEXT) "
        "FROM review_items r JOIN matches m ON m.id = r.match_id "
        f"WHERE {' AND '.join(where)}"
    )


def band_sql(column: str) -> str:
    """A SQL expression naming the band of ``column`` (a probability)."""
    cases = " ".join(
        f"WHEN {column} >= {low!r}" + (f" AND {column} < {high!r}" if high is not None else "")
        + f" THEN {_literal(label)}"
        for label, low, high in BANDS
    )  # fmt: skip
    return f"CASE {cases} END"


def read_labels(
    conn: Connection, register: str | None = None, agreement_id: str | None = None
) -> pa.Table:
    """One row per labelled pair (one query on the governance database).

    Columns: register, person_id, record_id, same (BOOLEAN), identity_only (every item
    about it was sent to review for uncertainty alone), match_probability, band,
    pattern, wrong_person, evidence (JSON text), agreement_ids, item_ids, items,
    decided_at (the latest).  The match is the latest one reviewed for the pair.
    """
    given = {"register": register, "agreement_id": agreement_id}
    params = {k: v for k, v in given.items() if v is not None}
    items = read_arrow(conn, _items_sql(register, agreement_id), _TYPES, params)
    residence = sql_word(Reason.LONG_RESIDENCE)
    identity = sql_in(IDENTITY_ONLY)
    con = duckdb.connect(":memory:")
    try:
        con.register("items", items)
        labels: pa.Table = con.sql(
            f"""
            WITH read AS (
                SELECT *, coalesce(from_json(json_extract(detail, '$.reasons'), '["VARCHAR"]'),
                                   [kind]) AS reasons
                FROM items
            ), kept AS (
                SELECT * FROM read
                WHERE len(list_filter(reasons, lambda x: x <> {residence})) > 0
            )
            SELECT register, person_id, record_id,
                   bool_and(status = {sql_word(SAME)}) AS same,
                   bool_and(len(list_filter(reasons, lambda x: x NOT IN {identity})) = 0)
                     AS identity_only,
                   arg_max(match_probability, match_id) AS match_probability,
                   {band_sql("arg_max(match_probability, match_id)")} AS band,
                   arg_max(json_extract_string(evidence, '$.pattern'), match_id) AS pattern,
                   arg_max(TRY_CAST(json_extract(evidence, '$.wrong_person') AS DOUBLE),
                           match_id) AS wrong_person,
                   arg_max(evidence, match_id) AS evidence,
                   list(DISTINCT agreement_id ORDER BY agreement_id) AS agreement_ids,
                   list(item_id ORDER BY item_id) AS item_ids,
                   count(*) AS items,
                   max(closed_at) AS decided_at
            FROM kept
            GROUP BY register, person_id, record_id
            ORDER BY register, person_id, record_id
            """
        ).to_arrow_table()
    finally:
        con.close()
    return labels


@dataclass(frozen=True)
class Precision:
    """How often reviewers confirmed the pairs of one group, with a Wilson 95% interval."""

    group: str
    labels: int
    same: int
    wrong: int
    precision: float | None
    low: float | None  # lower bound of precision
    high: float | None

    @property
    def wrong_upper_per_10000(self) -> float | None:
        """The 95% upper bound of wrong matches per 10,000 (None: no labels)."""
        return None if self.low is None else (1.0 - self.low) * 10_000


def precision(group: str, labels: int, wrong: int) -> Precision:
    if labels <= 0:
        return Precision(group=group, labels=0, same=0, wrong=0, precision=None, low=None,
                         high=None)  # fmt: skip
    low_wrong, high_wrong = wilson(wrong, labels)
    return Precision(
        group=group, labels=labels, same=labels - wrong, wrong=wrong,
        precision=(labels - wrong) / labels, low=1.0 - high_wrong, high=1.0 - low_wrong,
    )  # fmt: skip


@dataclass(frozen=True)
class LabelFigures:
    """What reviewers' labels say (`accord link evaluate --labels`, the oversight report)."""

    register: str | None
    agreement_id: str | None
    disclose_at: float
    overall: Precision
    bands: list[Precision]
    patterns: list[Precision]
    automatic: Precision  # labels at or above disclose_at


@dataclass(frozen=True)
class _Counts:
    group: str
    labels: int
    wrong: int


def _grouped(con: duckdb.DuckDBPyConnection, key: str, where: str = "TRUE") -> list[_Counts]:
    rows = con.execute(
        f"SELECT {key} AS g, count(*), count(*) FILTER (WHERE NOT same) FROM labels "
        f"WHERE {where} GROUP BY g ORDER BY count(*) DESC, g"
    ).fetchall()
    return [_Counts(str(g), int(n), int(w)) for g, n, w in rows if g is not None]


def figures(
    labels: pa.Table,
    disclose_at: float = 0.999,
    register: str | None = None,
    agreement_id: str | None = None,
) -> LabelFigures:
    """Precision per band and per pattern, and the automatic band's, from :func:`read_labels`."""
    con = duckdb.connect(":memory:")
    try:
        con.register("labels", labels)
        total = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT same) FROM labels"
        ).fetchall()[0]
        by_band = {c.group: c for c in _grouped(con, "band")}
        patterns = _grouped(con, "pattern")
        auto = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT same) FROM labels "
            "WHERE match_probability >= ?",
            [disclose_at],
        ).fetchall()[0]
    finally:
        con.close()
    bands = [
        precision(label, by_band[label].labels, by_band[label].wrong)
        if label in by_band
        else precision(label, 0, 0)
        for label, _, _ in BANDS
    ]
    return LabelFigures(
        register=register,
        agreement_id=agreement_id,
        disclose_at=disclose_at,
        overall=precision("all labels", int(total[0]), int(total[1])),
        bands=bands,
        patterns=[precision(c.group, c.labels, c.wrong) for c in patterns],
        automatic=precision(f"at or above {disclose_at:g}", int(auto[0]), int(auto[1])),
    )


def label_figures(
    conn: Connection,
    register: str | None = None,
    agreement_id: str | None = None,
    disclose_at: float = 0.999,
) -> LabelFigures:
    """:func:`figures` of the labels in the database (optionally one register, agreement)."""
    return figures(read_labels(conn, register, agreement_id), disclose_at, register, agreement_id)


def by_pattern(labels: pa.Table, identity_only: bool = True) -> dict[tuple[str, str], Precision]:
    """Per (register, pattern), precision of the labels (those sent to review for
    uncertainty alone, by default: what a trusted pattern would let through)."""
    con = duckdb.connect(":memory:")
    try:
        con.register("labels", labels)
        rows = con.execute(
            "SELECT register, pattern, count(*), count(*) FILTER (WHERE NOT same) FROM labels "
            f"WHERE pattern IS NOT NULL {'AND identity_only' if identity_only else ''} "
            "GROUP BY register, pattern ORDER BY register, pattern"
        ).fetchall()
    finally:
        con.close()
    return {(str(r), str(p)): precision(str(p), int(n), int(w)) for r, p, n, w in rows}


@dataclass(frozen=True)
class OversightLabels:
    """The oversight report's section on reviewers' labels."""

    overall: LabelFigures  # every register, automatic band from 0.999
    by_agreement: list[LabelFigures]  # each agreement in force, at its own disclose_at
    source: str = (
        "Tables review_items (settled items about a match, kinds uncertain_match, "
        "ambiguous_match and long_residence, those about long residence alone left out) "
        "joined to matches (the pattern and probability reviewed); one label per pair, "
        "the same person only if every item about it was approved; Wilson 95% intervals."
    )


def oversight_labels(conn: Connection) -> OversightLabels:
    """What the labels say, overall and for each agreement in force (its version in force
    read as stored: a report never fails on an agreement it cannot parse)."""
    every = read_labels(conn)
    rows = conn.execute(
        versions_in_force(AgreementVersion.agreement_id, AgreementVersion.document).order_by(
            AgreementVersion.agreement_id
        )
    ).all()
    by_agreement = []
    for agreement_id, document in rows:
        match = document.get("match") if isinstance(document, dict) else None
        disclose_at = match.get("disclose_at") if isinstance(match, dict) else None
        if isinstance(disclose_at, int | float) and document.get("status") != AgreementStatus.DRAFT:
            by_agreement.append(label_figures(conn, None, str(agreement_id), float(disclose_at)))
    return OversightLabels(overall=figures(every), by_agreement=by_agreement)
