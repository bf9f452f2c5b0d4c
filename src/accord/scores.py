"""Derived scores (SPEC.md F8): a data category of its own, shared only under safeguards.

A police risk database shared scores about people widely, with no distinction between
victims and perpetrators, no retention limit and no impact assessment.  Here a score
(``derived_scores``) comes in only through :func:`load_scores` (``accord scores load``),
which sets its ``retain_until`` from the agreements that share scores; it may be shared
only under an agreement naming ``derived_score`` in its data categories, and such an
agreement must name an impact assessment on file, a retention limit and every score
field (:func:`score_findings`, reported by the linter; `accord run` refuses to share
under an agreement that lacks one).  Victims' and witnesses' scores never reach an
enforcement purpose: an agreement whose ``roles`` name them for one is a firewall
breach, and :func:`shareable` never selects them whatever the agreement says.  A score
past its ``retain_until`` (or older than its agreement's ``score_retention_days``) is
not shared; what was shared of it is recalled (:func:`recall_lapsed`), and
:mod:`accord.retention` lists it for deletion.  Every score shared carries its
explanation (inputs and method).  Any disclosure of a score for an adverse use
(:func:`needs_human_review`) waits for a person in the review queue (kind
``score_review``, :func:`accord.gate.decide_scores_step`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, and_, or_, select

from accord import auditlog, ids
from accord.clock import business_time
from accord.errors import AccordError, InputError, Problem
from accord.policy.agreement import Agreement
from accord.policy.policy import Policy
from accord.policy.registry import agreement_version, stored_agreements
from accord.policy.scoring import CATEGORY as CATEGORY
from accord.policy.scoring import FIELDS as FIELDS
from accord.policy.scoring import PROTECTED_ROLES as PROTECTED_ROLES
from accord.policy.scoring import ROLE_RULE as ROLE_RULE
from accord.policy.scoring import ROLES as ROLES
from accord.policy.scoring import score_findings as score_findings
from accord.policy.scoring import shares_records as shares_records
from accord.policy.scoring import shares_scores as shares_scores
from accord.remedy import RecallRow, chunks, recall_disclosures
from accord.store import db
from accord.store.models import CaseDecision, DerivedScore, Disclosure
from accord.store.transfer import read_arrow
from accord.vocab import (
    AGREEMENT_IN_FORCE,
    AgreementStatus,
    DisclosureStatus,
    PoolStatus,
    Reason,
    RecallReason,
    ReviewKind,
    sql_word,
)

REVIEW_KIND = ReviewKind.SCORE_REVIEW  # the review item every score a person must check becomes
ADVERSE_USE = Reason.SCORE_ADVERSE_USE  # the gate's reason: a score for an enforcement purpose
EXPIRED = RecallReason.SCORE_EXPIRED  # recall reasons (no remedy implied: see accord.remedy)
DESTROYED = RecallReason.SCORE_DESTROYED
IN_FORCE = AGREEMENT_IN_FORCE
LOADED = "scores_loaded"  # audit log actions
READ = "scores_read"
EXPLANATION_SHOWN = 2000  # characters of an explanation in a review item's reason


def require_safeguards(agreement: Agreement, policy: Policy) -> None:
    """Refuse to share under an agreement in force that shares scores without a safeguard."""
    if agreement.status == AgreementStatus.DRAFT:
        return
    for _, message in score_findings(agreement, policy):
        raise AccordError(f"agreement {agreement.id}: {message}")


def needs_human_review(agreement: Agreement, policy: Policy) -> bool:
    """Whether a disclosure under this agreement is a score for an adverse use.

    Every enforcement purpose is adverse.  The gate must hold each such disclosure for
    review (never ``rule:auto``), whatever its match probability.
    """
    return shares_scores(agreement) and policy.is_enforcement(agreement.purpose)


def retain_until(computed_at: dt.date, agreement: Agreement) -> dt.date:
    """The date a score computed on ``computed_at`` may be kept until under ``agreement``."""
    if agreement.score_retention_days is None:
        raise ValueError(f"agreement {agreement.id} sets no score_retention_days")
    return computed_at + dt.timedelta(days=agreement.score_retention_days)


def retention_days(agreements: Sequence[Agreement]) -> int:
    """How long a score is held: the longest limit of the agreements in force sharing scores.

    Each agreement still shares a score only within its own limit (:func:`shareable`);
    no score is taken in while no agreement in force gives it a limit.
    """
    days = [
        a.score_retention_days
        for a in agreements
        if shares_scores(a) and a.status in IN_FORCE and a.score_retention_days is not None
    ]
    if not days:
        raise AccordError(
            "no agreement in force shares derived_score with a retention limit "
            "(score_retention_days), so a score could not be held for a limited time: load "
            "one first (accord agreements load) or name it with --agreements"
        )
    return max(days)


@dataclass(frozen=True)
class SharedScore:
    score_id: str
    person_id: str
    kind: str
    value: float
    role: str
    explanation: dict[str, Any]  # inputs and how the score was computed
    computed_at: dt.date
    retain_until: dt.date


SHAREABLE_TYPES = {
    "score_id": pa.string(),
    "person_id": pa.string(),
    "kind": pa.string(),
    "value": pa.float64(),
    "role": pa.string(),
    "explanation": pa.string(),  # JSON text
    "computed_at": pa.string(),  # ISO dates
    "retain_until": pa.string(),
}


def _shareable_sql(
    agreement: Agreement,
    as_of: dt.date,
    policy: Policy,
    people: Sequence[str] | None,
    score_ids: Sequence[str] | None,
    admitted_only: bool,
) -> tuple[str, dict[str, Any]] | None:
    """The one selection of what an agreement may share, as SQL for either backend and
    the values it binds."""
    if not shares_scores(agreement):
        return None
    roles = [r for r in agreement.roles if r in ROLES]
    if policy.is_enforcement(agreement.purpose):
        roles = [r for r in roles if r not in PROTECTED_ROLES]
    if (
        not roles
        or (people is not None and not people)
        or (score_ids is not None and not score_ids)
    ):
        return None
    params: dict[str, Any] = {"day": as_of, "roles": roles}
    where = [
        "destroyed_at IS NULL",
        "retain_until >= :day",
        "computed_at <= :day",  # a replay never shares a score not yet computed
        "role IN :roles",
    ]
    if agreement.score_retention_days is not None:
        params["earliest"] = as_of - dt.timedelta(days=agreement.score_retention_days)
        where.append("computed_at >= :earliest")
    if people is not None:
        params["people"] = list(people)
        where.append("person_id IN :people")
    if score_ids is not None:
        params["score_ids"] = list(score_ids)
        where.append("score_id IN :score_ids")
    if admitted_only:
        admitted = sql_word(PoolStatus.ADMITTED)
        where.append(f"person_id IN (SELECT person_id FROM pool_entries WHERE status = {admitted})")
    sql = (
        "SELECT score_id, person_id, kind, value, role, CAST(explanation AS TEXT), "
        "CAST(computed_at AS TEXT), CAST(retain_until AS TEXT) FROM derived_scores "
        f"WHERE {' AND '.join(where)} ORDER BY score_id"
    )
    return sql, params


def shareable_table(
    conn: Connection,
    agreement: Agreement,
    as_of: dt.date,
    policy: Policy,
    *,
    people: Sequence[str] | None = None,
    score_ids: Sequence[str] | None = None,
    admitted_only: bool = False,
) -> pa.Table:
    """:func:`shareable` as an Arrow table (explanation as JSON text, dates as ISO text)."""
    selection = _shareable_sql(agreement, as_of, policy, people, score_ids, admitted_only)
    if selection is None:
        return pa.table({n: pa.array([], t) for n, t in SHAREABLE_TYPES.items()})
    sql, params = selection
    return read_arrow(conn, sql, SHAREABLE_TYPES, params)


def shareable(
    conn: Connection, agreement: Agreement, as_of: dt.date, policy: Policy
) -> list[SharedScore]:
    """The scores this agreement may share on ``as_of``, each with its explanation.

    None unless the agreement shares ``derived_score``; only the roles it names; never a
    victim's or witness's score for an enforcement purpose; never one destroyed, past
    its ``retain_until`` or older than the agreement's ``score_retention_days``.
    """
    return [
        SharedScore(
            score_id=r["score_id"],
            person_id=r["person_id"],
            kind=r["kind"],
            value=float(r["value"]),
            role=r["role"],
            explanation=json.loads(r["explanation"]),
            computed_at=dt.date.fromisoformat(r["computed_at"]),
            retain_until=dt.date.fromisoformat(r["retain_until"]),
        )
        for r in shareable_table(conn, agreement, as_of, policy).to_pylist()
    ]


def why_not_shareable(
    conn: Connection, agreement: Agreement, score_id: str, as_of: dt.date, policy: Policy
) -> str | None:
    """Why ``agreement`` may not share this score on ``as_of`` (None if it may), in words."""
    s = conn.execute(select(DerivedScore).where(DerivedScore.score_id == score_id)).first()
    if s is None:
        return f"score {score_id} is not held"
    if s.destroyed_at is not None:
        return f"score {score_id} was destroyed"
    if s.retain_until < as_of:
        return f"score {score_id} passed its retention limit on {s.retain_until}"
    days = agreement.score_retention_days
    if days is not None and s.computed_at + dt.timedelta(days=days) < as_of:
        return f"score {score_id} is older than agreement {agreement.id} allows ({days} days)"
    if s.computed_at > as_of:
        return f"score {score_id} was computed after {as_of}"
    if not shares_scores(agreement):
        return f"agreement {agreement.id} does not share derived_score"
    if s.role in PROTECTED_ROLES and policy.is_enforcement(agreement.purpose):
        return f"refused by the firewall ({ROLE_RULE})"
    if s.role not in agreement.roles:
        return f"agreement {agreement.id} does not share the scores of a {s.role}"
    return None


# --- taking scores in --------------------------------------------------------------------------

COMPARED = ("person_id", "kind", "value", "role", "computed_at", "explanation")


@dataclass(frozen=True)
class LoadResult:
    loaded: int
    unchanged: int
    retention_days: int


def _held(conn: Connection, ids: Sequence[str]) -> pa.Table:
    """The scores already held under these ids, as the file's columns (explanation as text)."""
    found: list[Any] = []
    for chunk in chunks(sorted(set(ids))):
        found += conn.execute(
            select(
                DerivedScore.score_id, DerivedScore.person_id, DerivedScore.kind,
                DerivedScore.value, DerivedScore.role, DerivedScore.computed_at,
                DerivedScore.explanation, DerivedScore.destroyed_at,
            ).where(DerivedScore.score_id.in_(chunk))
        ).all()  # fmt: skip
    return pa.table(
        {
            "score_id": pa.array([r[0] for r in found], pa.string()),
            "person_id": pa.array([r[1] for r in found], pa.string()),
            "kind": pa.array([r[2] for r in found], pa.string()),
            "value": pa.array([float(r[3]) for r in found], pa.float64()),
            "role": pa.array([r[4] for r in found], pa.string()),
            "computed_at": pa.array([r[5] for r in found], pa.date32()),
            "explanation": pa.array(
                [json.dumps(r[6], ensure_ascii=False, separators=(",", ":")) for r in found],
                pa.string(),
            ),
            "destroyed": pa.array([r[7] is not None for r in found], pa.bool_()),
        }
    )


def _problems(
    con: duckdb.DuckDBPyConnection, source: str, as_of: dt.date, days: int
) -> list[Problem]:
    """Every reason the file (``f``) cannot be taken in, given ``held`` and ``known``."""
    day = "CAST($as_of AS DATE)"
    params: dict[str, Any] = {"as_of": as_of, "days": int(days)}
    order = {c: i for i, c in enumerate(("score_id", *COMPARED))}
    parts = [
        "SELECT __row, 'person_id' AS col, 'unknown person ''' || person_id || "
        "''': Accord holds no case about them' AS msg FROM f "
        "WHERE person_id NOT IN (SELECT person_id FROM known)",
        "SELECT f.__row, 'score_id', 'score ''' || f.score_id || ''' was destroyed: a new "
        "score needs a new score_id' FROM f JOIN held h USING (score_id) WHERE h.destroyed",
        "SELECT __row, 'computed_at', 'is after the as-of date ' || CAST($as_of AS VARCHAR) "
        f"FROM f WHERE computed_at > {day} AND score_id NOT IN (SELECT score_id FROM held)",
        "SELECT __row, 'computed_at', 'is more than ' || CAST($days AS VARCHAR) || ' days "
        "before ' || CAST($as_of AS VARCHAR) || ': the score is past the longest retention "
        "limit of the agreements sharing scores, so it is not taken in' FROM f "
        f"WHERE computed_at + to_days(CAST($days AS INTEGER)) < {day} "
        "AND score_id NOT IN (SELECT score_id FROM held)",
    ]
    for n, c in enumerate(COMPARED[:-1]):  # the explanation is compared as JSON below
        params[f"column_{n}"] = c
        parts.append(
            f"SELECT f.__row, CAST($column_{n} AS VARCHAR), 'score ''' || f.score_id || "
            f"''' is held with ' || $column_{n} || ' ' || "
            f"CAST(h.{c} AS VARCHAR) || ': a changed score needs a new score_id' "
            f"FROM f JOIN held h USING (score_id) WHERE NOT h.destroyed "
            f"AND f.{c} IS DISTINCT FROM h.{c}"
        )
    rows: list[tuple[Any, ...]] = con.execute(" UNION ALL ".join(parts), params).fetchall()
    # Explanations that differ as text may still be the same JSON (key order, escapes).
    for row, score_id, new, old in con.execute(
        "SELECT f.__row, f.score_id, f.explanation, h.explanation FROM f "
        "JOIN held h USING (score_id) WHERE NOT h.destroyed AND f.explanation <> h.explanation"
    ).fetchall():
        if json.loads(new) != json.loads(old):
            rows.append(
                (
                    row,
                    "explanation",
                    f"score {score_id!r} is held with another explanation: a changed score "
                    "needs a new score_id",
                )
            )
    rows.sort(key=lambda r: (r[0], order[r[1]]))
    return [Problem(source, int(r[0]), r[1], r[2]) for r in rows]


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"holds the number {text[:40]}, too large to be exact: give it as text")
    return number


def _explanation(text: str) -> dict[str, Any]:
    """An explanation as the ledger will hold it: JSON with finite numbers only."""
    value: dict[str, Any] = json.loads(text, parse_float=_finite, parse_constant=_finite)
    return value


def load_scores(
    url: str,
    table: pa.Table,
    source: str,
    as_of: dt.date,
    actor: str,
    agreements: Sequence[Agreement] | None = None,
) -> LoadResult:
    """Take in a valid scores file (from :func:`accord.formats.load`) whole or not at all.

    ``retain_until`` is ``computed_at`` plus :func:`retention_days` of ``agreements``
    (else of those stored in the database).  A score already held unchanged is skipped,
    so loading a file twice changes nothing; a score held with other content, a destroyed
    score's id, an unknown person, or a new score computed after ``as_of`` or already past
    its limit rejects the file with the row and column.
    """
    with db.connect(url) as conn:
        if agreements is None:
            agreements = [a for a, _ in stored_agreements(conn)]
        days = retention_days(agreements)
        people = sorted(set(table.column("person_id").to_pylist()))
        known: list[str] = []
        for chunk in chunks(people):
            known += conn.scalars(
                select(CaseDecision.person_id).where(CaseDecision.person_id.in_(chunk)).distinct()
            ).all()
        held = _held(conn, table.column("score_id").to_pylist())
        con = duckdb.connect()
        try:
            con.register("f", table)
            con.register("held", held)
            con.register("known", pa.table({"person_id": pa.array(known, pa.string())}))
            problems = _problems(con, source, as_of, days)
            if problems:
                raise InputError(problems[:20], len(problems))
            new = con.execute(
                "SELECT score_id, person_id, kind, value, role, explanation, computed_at, "
                f"CAST(computed_at + INTERVAL {days} DAY AS DATE), __row FROM f "
                "WHERE score_id NOT IN (SELECT score_id FROM held) ORDER BY score_id"
            ).fetchall()
        finally:
            con.close()
        cols = ("score_id", "person_id", "kind", "value", "role", "explanation", "computed_at",
                "retain_until")  # fmt: skip
        rows = []
        unreadable = []
        for r in new:
            try:
                rows.append((*r[:5], _explanation(r[5]), *r[6:8]))
            except ValueError as exc:
                unreadable.append(Problem(source, int(r[8]), "explanation", str(exc)))
        if unreadable:
            unreadable.sort()
            raise InputError(unreadable[:20], len(unreadable))
        db.bulk_insert(conn, DerivedScore.__table__, cols, rows)  # type: ignore[arg-type]
        unchanged = table.num_rows - len(rows)
        auditlog.log(
            conn, actor, LOADED, file=source, loaded=len(rows), unchanged=unchanged,
            retention_days=days,
        )  # fmt: skip
    return LoadResult(len(rows), unchanged, days)


# --- recall when a score lapses -------------------------------------------------------------


def recall_lapsed(conn: Connection, as_of: dt.date, actor: str) -> list[RecallRow]:
    """Recall every active score disclosure whose score was destroyed or is past its limit.

    The limit is the score's ``retain_until`` and the ``score_retention_days`` of the
    agreement version the disclosure cites.  The recipient is told, like any recall; no
    remedy is implied (the score was not wrong, only no longer to be held).  The caller
    signs a tree head.
    """
    if conn.scalar(select(DerivedScore.score_id).limit(1)) is None:
        return []  # no score was ever taken in: no disclosure to look through
    cited = conn.execute(
        select(Disclosure.agreement_id, Disclosure.agreement_version)
        .where(Disclosure.status == DisclosureStatus.ACTIVE, Disclosure.score_id != "")
        .distinct()
    ).all()
    too_old = []
    for agreement_id, version in cited:
        agreement = agreement_version(conn, agreement_id, int(version))
        if agreement is not None and agreement.score_retention_days is not None:
            earliest = as_of - dt.timedelta(days=agreement.score_retention_days)
            too_old.append(
                and_(
                    Disclosure.agreement_id == agreement_id,
                    Disclosure.agreement_version == version,
                    DerivedScore.computed_at < earliest,
                )
            )
    lapsed = conn.execute(
        select(Disclosure.disclosure_id, DerivedScore.destroyed_at.is_not(None))
        .join(DerivedScore, DerivedScore.score_id == Disclosure.score_id)
        .where(
            Disclosure.status == DisclosureStatus.ACTIVE,
            Disclosure.score_id != "",
            or_(DerivedScore.destroyed_at.is_not(None), DerivedScore.retain_until < as_of,
                *too_old),
        )
        .order_by(Disclosure.disclosure_id)
    ).all()  # fmt: skip
    destroyed = [d for d, gone in lapsed if gone]
    expired = [d for d, gone in lapsed if not gone]
    at = business_time(as_of)
    return recall_disclosures(conn, destroyed, DESTROYED, actor, at) + recall_disclosures(
        conn, expired, EXPIRED, actor, at
    )


# --- what a caseworker sees --------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreShared:
    disclosure_id: str
    recipient: str
    agreement_id: str
    status: str
    decided_by: str


@dataclass(frozen=True)
class ScoreRecord:
    score_id: str
    kind: str
    value: float
    role: str
    explanation: dict[str, Any]
    computed_at: dt.date
    retain_until: dt.date
    destroyed: bool
    disclosures: list[ScoreShared]

    def status(self, as_of: dt.date) -> str:
        if self.destroyed:
            return "destroyed"
        return "expired" if self.retain_until < as_of else "held"


def scores_of(url: str, person_id: str, actor: str) -> list[ScoreRecord]:
    """Every score held about one person and where each went; the read is audit-logged."""
    with db.connect(url) as conn:
        shared: dict[str, list[ScoreShared]] = {}
        for d in conn.execute(
            select(
                Disclosure.score_id, Disclosure.disclosure_id, Disclosure.recipient,
                Disclosure.agreement_id, Disclosure.status, Disclosure.decided_by,
            )
            .where(Disclosure.person_id == person_id, Disclosure.score_id != "")
            .order_by(Disclosure.disclosed_at, Disclosure.disclosure_id)
        ):  # fmt: skip
            shared.setdefault(d[0], []).append(ScoreShared(*d[1:]))
        found = [
            ScoreRecord(
                score_id=s.score_id, kind=s.kind, value=float(s.value), role=s.role,
                explanation=dict(s.explanation or {}), computed_at=s.computed_at,
                retain_until=s.retain_until, destroyed=s.destroyed_at is not None,
                disclosures=shared.get(s.score_id, []),
            )
            for s in conn.execute(
                select(DerivedScore)
                .where(DerivedScore.person_id == person_id)
                .order_by(DerivedScore.computed_at, DerivedScore.score_id)
            )
        ]  # fmt: skip
        auditlog.log(conn, actor, READ, person_id, scores=len(found))
    return found


# --- review before adverse use -----------------------------------------------------------------


def review_namer(key: bytes) -> ids.Namer:
    """``score_review`` items' ids, keyed by the database's id key (`accord.ids`)."""
    return ids.Namer(key, ReviewKind.SCORE_REVIEW, "RV", 16)


def review_item_id(
    key: bytes, agreement_id: str, person_id: str, record_id: str, score_id: str
) -> str:
    return review_namer(key)(agreement_id, person_id, record_id, score_id)


def review_reason(
    *,
    kind: str,
    value: float,
    role: str,
    computed_at: dt.date,
    explanation: str,
    recipient: str,
    purpose: str,
    enforcement: bool,
    match_reasons: Sequence[str],
) -> str:
    """What a reviewer of a ``score_review`` item is asked, with the score and its explanation."""
    if len(explanation) > EXPLANATION_SHOWN:
        explanation = explanation[:EXPLANATION_SHOWN] + "... (in full: accord scores list)"
    asks = []
    if enforcement:
        asks.append(
            f"A derived score would go to {recipient} for {purpose}, an enforcement purpose: "
            "a person must check the score and how it was made before any adverse use."
        )
    if match_reasons:
        asks.append(
            f"The match to {recipient}'s record needs checking too ({', '.join(match_reasons)})."
        )
    return (
        f"{' '.join(asks)} Score: {kind} = {value:g}; the person's role: {role}; computed "
        f"{computed_at}. Explanation (inputs and method): {explanation}"
    ).strip()
