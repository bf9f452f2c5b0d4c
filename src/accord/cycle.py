"""One whole sharing cycle, `accord run`: admission, linkage, gate, disclosure, ledger, batches.

The cases file, every agreement (a firewall breach stops the run) and the policy are read
and checked before anything is written, and each register is found.  Then one database
transaction does the whole cycle, so a crash leaves the database as it was.  Each
register is read and checked when its turn comes, in a DuckDB workspace that spills to
disk (:mod:`accord.workspace`), and dropped once linked: registers of tens of millions
of rows are never all held at once, nor held in the process's memory; a bad one stops
the run there, its transaction rolled back, nothing from it committed.
The output files are written only after it commits, each whole or not at all.  A run
that committed but died before its files were written stays ``disclosed``; the next run
delivers its disclosures in its own batches and marks it delivered, so nothing is lost
and nothing is disclosed twice (disclosure ids are deterministic, and unique per
agreement, record and person).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, Row, func, insert, select, update

from accord import admission, formats, gate, ids, scores
from accord.cases import read_arrow
from accord.clock import business_time
from accord.config import Settings
from accord.disclosure import AUTOMATIC, Draft, disclose
from accord.errors import AccordError
from accord.events import open_freezes
from accord.first_use import initialise
from accord.ledger import signing
from accord.ledger import unit as ledger_unit
from accord.linkage import candidates, proposals, words
from accord.linkage import store as linkage_store
from accord.linkage.engine import engine_for
from accord.linkage.predict import link
from accord.outputs import write_outputs
from accord.policy import firewall, pauses, trusted
from accord.policy.agreement import Agreement, load_agreements
from accord.policy.compile import cohort_membership
from accord.policy.policy import Policy, load_policy
from accord.policy.registry import agreement_version, record_policy, store_agreements
from accord.remedy import by_reason, chunks, withdraw_and_recall
from accord.store import db
from accord.store.models import (
    Disclosure,
    Match,
    ReviewDecision,
    ReviewItem,
    Run,
    utcnow,
)
from accord.vocab import AgreementStatus, Decision, ItemStatus, PoolStatus, sql_word
from accord.workspace import workspace

Progress = Callable[[str], None]
# What linkage reads of a register (SPEC.md's register columns): extra columns stay on disk.
LINKED_FIELDS = ("record_id", "family_name", "given_names", "date_of_birth", "postcode", "since")
REVIEWED = "reviewers:"  # decided_by of a disclosure people approved, then their names
# The run's DuckDB relation (person_id) of the people admitted to the pool.
ADMITTED_PEOPLE = "admitted_people"

PLAIN_REVIEW = {
    gate.AMBIGUOUS: "Another record or person matches almost as well: a person must tell "
    "them apart before anything is shared.",
    gate.LONG_RESIDENCE: "The recipient's record shows residence long before the decision: "
    "evidence to weigh before anyone acts.",
    gate.UNCERTAIN: "The match is not certain enough to share without a person checking it.",
    gate.UNCORROBORATED: "Only the name and date of birth agree: that fits other people too, "
    "so a person must check it.",
}


@dataclass(frozen=True)
class RunInputs:
    cases: Path
    registers: dict[str, Path]
    agreements: Path
    as_of: dt.date
    out: Path
    key: Path
    policy: Path | None = None
    actor: str = "accord run"
    # Inputs read from a private local copy (`accord.uri.fetched`): the copy's path and the
    # URI it came from, which the run records.
    sources: dict[str, str] = field(default_factory=dict)
    # Uploads the outputs written to ``out`` (``--out s3://...``, `accord.uri.output_folder`).
    deliver: Callable[[list[str]], None] | None = None

    def source(self, path: Path) -> str:
        return self.sources.get(str(path), str(path))


def _silent(_: str) -> None:
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def review_namer(key: bytes) -> ids.Namer:
    """Review items' ids, keyed by the database's id key as disclosure ids are (`accord.ids`)."""
    return ids.Namer(key, "review", "RV", 16)


def review_item_id(key: bytes, agreement_id: str, person_id: str, record_id: str) -> str:
    return review_namer(key)(agreement_id, person_id, record_id)


# --- the gate's inputs -----------------------------------------------------------------------


def _agreements_table(
    con: duckdb.DuckDBPyConnection,
    agreements: Sequence[tuple[Agreement, int]],
    policy: Policy,
) -> None:
    rows = [
        {
            "agreement_id": a.id, "version": v, "recipient": a.recipient, "purpose": a.purpose,
            "status": a.status, "valid_from": a.valid_from, "review_by": a.review_by,
            "disclose_at": a.match.disclose_at, "review_from": a.match.review_from,
            "ambiguity_margin": a.match.ambiguity_margin,
            "ambiguity_bits": a.match.ambiguity_bits,
            "wrong_person_tolerance": a.match.wrong_person_tolerance,
            "four_eyes": a.review.four_eyes,
            "exclude_cohorts": list(a.exclude_cohorts),
            "enforcement": policy.is_enforcement(a.purpose), "fields": list(a.fields),
            "trusted_patterns": a.match.trusted,
        }
        for a, v in agreements
    ]  # fmt: skip
    if rows:
        con.register("_agreements", pa.Table.from_pylist(rows))
        con.execute("INSERT INTO agreements BY NAME SELECT * FROM _agreements")
        con.unregister("_agreements")
    _insert_rows(
        con,
        "score_agreements",
        [
            {"agreement_id": a.id, "shares_records": scores.shares_records(a)}
            for a, _ in agreements
            if scores.shares_scores(a)
        ],
    )


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        con.register("_rows", pa.Table.from_pylist(rows))
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
        con.unregister("_rows")


def _governance_inputs(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    as_of: dt.date,
    people: Sequence[str] | None = None,
) -> None:
    """Fill the gate's inputs that come from governance state rather than from linkage.

    Needs ``person_state`` and ``pool_status`` (person_id, status) in ``con``.
    """
    con.execute(
        "INSERT INTO pool SELECT s.person_id, s.latest_decision_date, s.decision_category, "
        f"coalesce(p.status = {sql_word(PoolStatus.ADMITTED)}, false) FROM person_state s "
        "LEFT JOIN pool_status p USING (person_id)"
    )
    cohort_membership(con, policy, as_of)
    con.execute("INSERT INTO cohorts SELECT person_id, cohort FROM cohort_membership")
    _insert_rows(con, "pauses", [{"agreement_id": a, "cohort": c} for a, c in pauses.active(conn)])
    _insert_rows(con, "frozen", [{"person_id": p} for p in open_freezes(conn)])
    _insert_rows(con, "protected", [{"category": c} for c in sorted(policy.protected_categories)])
    # One read of each table serves records and scores; a score row names its score_id.
    disclosed = select(
        Disclosure.agreement_id, Disclosure.person_id, Disclosure.record_id, Disclosure.score_id
    )
    items = select(
        ReviewItem.item_id, ReviewItem.agreement_id, ReviewItem.person_id, ReviewItem.record_id,
        ReviewItem.score_id, ReviewItem.status,
    ).where(ReviewItem.agreement_id.is_not(None), ReviewItem.record_id.is_not(None))  # fmt: skip
    if people is not None:
        disclosed = disclosed.where(Disclosure.person_id.in_(people))
        items = items.where(ReviewItem.person_id.in_(people))
    made = conn.execute(disclosed).all()
    found = conn.execute(items).all()
    _insert_rows(
        con,
        "settled",
        [
            {"agreement_id": a, "person_id": p, "record_id": r, "state": "disclosed"}
            for a, p, r, score in made
            if not score
        ]
        + [
            {"agreement_id": a, "person_id": p, "record_id": r, "state": st}
            for _, a, p, r, score, st in found
            if score is None
        ],
    )
    approved = [i for i in found if i[4] is None and i[5] == ItemStatus.APPROVED]
    approvers = _approvers(conn, [i[0] for i in approved])
    _insert_rows(
        con,
        "approved",
        [
            {"agreement_id": a, "person_id": p, "record_id": r, "decided_by": approvers[i]}
            for i, a, p, r, _, _ in approved
        ],
    )
    _score_governance_inputs(
        conn, con, [m for m in made if m[3]], [i for i in found if i[4] is not None]
    )


def _score_governance_inputs(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    made: Sequence[Any],
    found: Sequence[Any],
) -> None:
    """``score_settled`` and ``score_approved`` from score disclosures and their items.

    ``made``: (agreement, person, record, score) of score disclosures; ``found``: (item,
    agreement, person, record, score, status) of ``score_review`` items.
    """
    _insert_rows(
        con,
        "score_settled",
        [
            {"agreement_id": a, "person_id": p, "record_id": r, "score_id": s, "state": "disclosed"}
            for a, p, r, s in made
        ]
        + [
            {"agreement_id": a, "person_id": p, "record_id": r, "score_id": s, "state": st}
            for _, a, p, r, s, st in found
        ],
    )
    approved = [i for i in found if i[5] == ItemStatus.APPROVED]
    approvers = _approvers(conn, [i[0] for i in approved])
    _insert_rows(
        con,
        "score_approved",
        [
            {"agreement_id": a, "person_id": p, "record_id": r, "score_id": s,
             "decided_by": approvers[i]}
            for i, a, p, r, s, _ in approved
        ],
    )  # fmt: skip


def _approvers(conn: Connection, item_ids: Sequence[str]) -> dict[str, str]:
    """Per approved review item, the ``decided_by`` of what it lets go: its approvers."""
    reviewers: dict[str, list[str]] = {i: [] for i in item_ids}
    for chunk in chunks(sorted(reviewers)):
        for item_id, reviewer in conn.execute(
            select(ReviewDecision.item_id, ReviewDecision.reviewer)
            .where(ReviewDecision.item_id.in_(chunk), ReviewDecision.decision == Decision.APPROVE)
            .order_by(ReviewDecision.decided_at, ReviewDecision.id)
        ):
            reviewers[item_id].append(reviewer)
    return {i: REVIEWED + ", ".join(names) for i, names in reviewers.items()}


def _score_inputs(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    agreements: Sequence[Agreement],
    policy: Policy,
    as_of: dt.date,
    people: Sequence[str] | None = None,
    score_ids: Sequence[str] | None = None,
) -> int:
    """``score_candidates``: what each agreement in force may share (``scores.shareable``).

    Only about people in the pool: scores follow the same admission, linkage and gate as
    everything else shared (see docs/scores.md).
    """
    found = 0
    for a in agreements:
        if a.status == AgreementStatus.DRAFT or not scores.shares_scores(a):
            continue
        table = scores.shareable_table(
            conn, a, as_of, policy, people=people, score_ids=score_ids,
            admitted_only=people is None,
        )  # fmt: skip
        if table.num_rows == 0:
            continue
        con.register("_scores", table)
        con.execute(
            "INSERT INTO score_candidates SELECT ? AS agreement_id, score_id, person_id, kind, "
            "value, role, explanation, CAST(computed_at AS DATE), CAST(retain_until AS DATE) "
            "FROM _scores",
            [a.id],
        )
        con.unregister("_scores")
        found += table.num_rows
    return found


# --- linkage -------------------------------------------------------------------------------


def _link_register(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    name: str,
    register: Callable[[], pa.Table],
    register_sha256: str,
    agreements: Sequence[Agreement],
    run_id: str,
    progress: Progress,
    announce: Progress = _silent,
) -> int:
    """Match the admitted pool to one register; fill ``candidates``; store the matches.

    One linkage per register feeds every agreement with that recipient, so it matches on
    the identity the strictest purpose may use (the firewall's, if any is enforcement).
    Linkage is a step of its own (:mod:`accord.linkage.candidates`): its candidates are
    kept on disk by register, model and pool, so a run whose key an earlier run already
    linked (one that failed later, say) takes them from there and does no linking, and
    ``register`` (which reads the register's records) is then not even called.
    """
    enforcing = [a for a in agreements if policy.is_enforcement(a.purpose)]
    purpose = (enforcing or list(agreements))[0].purpose
    identity = firewall.identity_for_purpose(con, policy, purpose, people=ADMITTED_PEOPLE)
    for a in enforcing:
        if a.purpose != purpose:  # another enforcement purpose: its refusals are its own
            firewall.identity_for_purpose(con, policy, a.purpose, people=ADMITTED_PEOPLE)
        firewall.record_refusals(conn, con, run_id, a.id, a.purpose, use="matching")
    history = firewall.matching_history(con, policy, purpose, ADMITTED_PEOPLE)
    pool = con.sql(
        "SELECT i.person_id, i.family_name, i.given_names, i.date_of_birth, i.postcode, "
        f"h.postcodes, h.arrival_date FROM {identity} AS i LEFT JOIN {history} AS h "
        "USING (person_id) ORDER BY i.person_id"
    ).to_arrow_table()
    if pool.num_rows == 0:
        return 0
    read: list[pa.Table] = []

    def records() -> pa.Table:  # read once, and only if training or linking needs it
        if not read:
            read.append(register())
        return read[0]

    model, trained = linkage_store.load_or_train(conn, name, pool, records, register_sha256)
    floor = min(a.match.review_from for a in agreements)
    engine = engine_for(name)  # the settings' engine for this register (DuckDB, Spark)
    key = candidates.Key(
        name, register_sha256, candidates.model_digest(model), candidates.pool_digest(pool),
        floor, engine,
    )  # fmt: skip

    def linked() -> pa.Table:
        progress(f"{name}: {'trained a linkage model, ' if trained else ''}matching")
        return link(model, pool, records(), min_probability=floor, engine=engine)

    found = candidates.find_or_link(key, linked, candidates.folder(conn))
    if found.reused:
        announce(
            f"{name}: {found.rows:,} candidate pairs from an earlier run with the same "
            f"register, model and pool ({found.path}): not linked again"
        )
    return candidates.load(conn, con, found, run_id, name, model.id)


# --- acting on the gate's decisions ----------------------------------------------------------


def _fields_view(
    con: duckdb.DuckDBPyConnection, policy: Policy, purposes: Sequence[str], people: str
) -> dict[str, str]:
    """Per purpose, the identity table a disclosure's fields are taken from (firewalled)."""
    return {p: firewall.identity_for_purpose(con, policy, p, people=people) for p in purposes}


def _drafts(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    decided_by: str | None,
    records: bool = True,
    score_rows: bool = True,
) -> list[Draft]:
    """Disclosure drafts for every ``disclose`` outcome, with the agreed fields only.

    ``records``: the matched records (``gate``, agreements that share them);
    ``score_rows``: derived scores (``score_gate``), each with its explanation.
    """
    disclosing = []
    if records:
        disclosing.append("SELECT person_id, purpose FROM gate WHERE outcome = 'disclose' "
                          "AND shares_records")  # fmt: skip
    if score_rows:
        disclosing.append("SELECT person_id, purpose FROM score_gate WHERE outcome = 'disclose'")
    if not disclosing:
        return []
    con.execute(f"CREATE OR REPLACE TABLE disclosing_any AS {' UNION ALL '.join(disclosing)}")
    purposes = [r[0] for r in con.execute(
        "SELECT DISTINCT purpose FROM disclosing_any ORDER BY purpose"
    ).fetchall()]  # fmt: skip
    con.execute(
        "CREATE OR REPLACE TABLE disclosing AS SELECT DISTINCT person_id FROM disclosing_any"
    )
    views = _fields_view(con, policy, purposes, "disclosing")
    drafts: list[Draft] = []
    for purpose, view in views.items():
        if records:
            drafts += _drafts_from(con, "gate", view, purpose, decided_by)
        if score_rows:
            drafts += _drafts_from(con, "score_gate", view, purpose, decided_by)
    return drafts


_SCORE_COLUMNS = "s.score_id, s.kind, s.value, s.role, s.explanation"


def _drafts_from(
    con: duckdb.DuckDBPyConnection, table: str, view: str, purpose: str, decided_by: str | None
) -> list[Draft]:
    """Drafts of the ``disclose`` rows of ``gate`` or ``score_gate`` for one purpose.

    Each carries the agreed identity fields; a score also carries itself and its
    explanation.  ``decided_by`` is the caller's (the reviewers of an approval being
    acted on now), else the approvers the gate found, else the automatic rule.
    """
    is_score = table == "score_gate"
    rows = con.execute(
        f"""
        SELECT s.agreement_id, s.agreement_version, s.recipient, s.record_id, s.person_id,
               s.match_probability, s.match_id, a.fields, to_json(i) AS identity,
               s.approved_by, {_SCORE_COLUMNS if is_score else "NULL, NULL, NULL, NULL, NULL"}
        FROM {table} s JOIN agreements a USING (agreement_id)
        JOIN {view} i USING (person_id)
        WHERE s.outcome = 'disclose' AND s.purpose = ?
          {"" if is_score else "AND s.shares_records"}
        ORDER BY s.agreement_id, s.person_id, s.record_id{", s.score_id" if is_score else ""}
        """,
        [purpose],
    ).fetchall()
    drafts = []
    for (
        agreement_id, version, recipient, record_id, person_id, p, match_id, fields, ident,
        approved_by, score_id, kind, value, role, explanation,
    ) in rows:  # fmt: skip
        values = json.loads(ident)
        score: dict[str, Any] = {}
        if is_score:
            score = {
                "score_kind": kind,
                "score_value": float(value),
                "score_role": role,
                "score_explanation": json.loads(explanation),
            }
        drafts.append(
            Draft(
                agreement_id=agreement_id,
                agreement_version=int(version),
                recipient=recipient,
                record_id=record_id,
                person_id=person_id,
                match_probability=float(p),
                decided_by=decided_by or approved_by or AUTOMATIC,
                # A record never carries score fields; a score carries every one, even one
                # the agreement left out (the run refuses such an agreement): a score never
                # travels without its explanation.
                fields={f: values.get(f) for f in fields if f not in scores.FIELDS} | score,
                match_id=match_id,
                score_id=score_id or "",
            )
        )
    return drafts


def _evidence_words(conn: Connection, match_ids: Sequence[int]) -> dict[int, list[str]]:
    """Per match, its evidence in plain sentences (:func:`accord.linkage.words.summary`),
    kept on the review item so that a reviewer reads why it needs them."""
    found: dict[int, list[str]] = {}
    step = 1_000
    for start in range(0, len(match_ids), step):
        chunk = match_ids[start : start + step]
        for match_id, explanation, evidence in conn.execute(
            select(Match.id, Match.explanation, Match.evidence).where(Match.id.in_(chunk))
        ):
            found[int(match_id)] = words.summary(explanation or [], evidence)
    return found


def _queue_reviews(
    conn: Connection, con: duckdb.DuckDBPyConnection, run_id: str, now: dt.datetime
) -> int:
    rows = con.execute(
        """
        SELECT agreement_id, person_id, record_id, review_kind, reasons, match_id,
               match_probability, four_eyes
        FROM gate WHERE outcome = 'review' AND shares_records
        ORDER BY agreement_id, person_id, record_id
        """
    ).fetchall()
    name = review_namer(ids.id_key(conn))
    evidence = _evidence_words(conn, sorted({int(r[5]) for r in rows if r[5] is not None}))
    items = [
        (
            name(a, p, r), kind, p, r, a, match_id, PLAIN_REVIEW[kind],
            {"reasons": reasons, "match_probability": prob,
             "evidence": evidence.get(int(match_id), []) if match_id is not None else []},
            ItemStatus.OPEN, 2 if four_eyes else 1, run_id, now,
        )
        for a, p, r, kind, reasons, match_id, prob, four_eyes in rows
    ]  # fmt: skip
    cols = (
        "item_id", "kind", "person_id", "record_id", "agreement_id", "match_id", "reason",
        "detail", "status", "approvals_needed", "run_id", "created_at",
    )  # fmt: skip
    db.bulk_insert(conn, ReviewItem.__table__, cols, items)  # type: ignore[arg-type]
    return len(items)


def _queue_score_reviews(
    conn: Connection, con: duckdb.DuckDBPyConnection, run_id: str, now: dt.datetime
) -> int:
    """A ``score_review`` item per score a person must check, showing score and explanation."""
    rows = con.execute(
        """
        SELECT agreement_id, person_id, record_id, score_id, reasons, match_review_reasons,
               match_id, match_probability, four_eyes, recipient, purpose, enforcement, kind,
               value, role, explanation, computed_at, retain_until
        FROM score_gate WHERE outcome = 'review'
        ORDER BY agreement_id, person_id, record_id, score_id
        """
    ).fetchall()
    name = scores.review_namer(ids.id_key(conn))
    items = []
    for (
        a, p, r, score_id, reasons, match_reasons, match_id, prob, four_eyes, recipient,
        purpose, enforcement, kind, value, role, explanation, computed_at, retain_until,
    ) in rows:  # fmt: skip
        reason = scores.review_reason(
            kind=kind, value=float(value), role=role, computed_at=computed_at,
            explanation=explanation, recipient=recipient, purpose=purpose,
            enforcement=bool(enforcement), match_reasons=match_reasons,
        )  # fmt: skip
        detail = {
            "reasons": reasons,
            "match_probability": prob,
            "score": {
                "score_id": score_id, "kind": kind, "value": float(value), "role": role,
                "explanation": json.loads(explanation), "computed_at": computed_at.isoformat(),
                "retain_until": retain_until.isoformat(),
            },
        }  # fmt: skip
        items.append(
            (
                name(a, p, r, score_id), scores.REVIEW_KIND, p, r, a, match_id,
                score_id, reason, detail, ItemStatus.OPEN, 2 if four_eyes else 1, run_id, now,
            )
        )  # fmt: skip
    cols = (
        "item_id", "kind", "person_id", "record_id", "agreement_id", "match_id", "score_id",
        "reason", "detail", "status", "approvals_needed", "run_id", "created_at",
    )  # fmt: skip
    db.bulk_insert(conn, ReviewItem.__table__, cols, items)  # type: ignore[arg-type]
    return len(items)


def _agreement_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Per agreement, what happened to its records and its scores together (and scores alone)."""
    open_item = sql_word(ItemStatus.OPEN)
    rows = con.execute(
        f"""
        WITH decided AS (
            SELECT agreement_id, outcome, reasons, settled_state, false AS score FROM gate
            WHERE shares_records
            UNION ALL
            SELECT agreement_id, outcome, reasons, settled_state, true FROM score_gate
        )
        SELECT a.agreement_id,
          count(*) FILTER (WHERE outcome = 'disclose'),
          count(*) FILTER (WHERE outcome = 'review'
                           OR (outcome = 'settled' AND settled_state = {open_item})),
          count(*) FILTER (WHERE outcome = 'blocked'
                           AND list_contains(reasons, '{gate.FIREWALL}')),
          count(*) FILTER (WHERE outcome = 'held'
                           AND (list_contains(reasons, '{gate.AGREEMENT_PAUSED}')
                                OR list_contains(reasons, '{gate.COHORT_PAUSED}'))),
          count(*) FILTER (WHERE outcome = 'held' AND list_contains(reasons, '{gate.FROZEN}')),
          count(*) FILTER (WHERE outcome = 'blocked'),
          count(*) FILTER (WHERE outcome = 'settled' AND settled_state = 'disclosed'),
          count(*) FILTER (WHERE score AND outcome = 'disclose'),
          count(*) FILTER (WHERE score AND (outcome = 'review'
                           OR (outcome = 'settled' AND settled_state = {open_item})))
        FROM agreements a LEFT JOIN decided g USING (agreement_id)
        GROUP BY a.agreement_id ORDER BY a.agreement_id
        """
    ).fetchall()
    names = ("disclosed", "held_for_review", "blocked_by_firewall", "paused", "frozen",
             "blocked", "already_disclosed", "scores_disclosed",
             "scores_held_for_review")  # fmt: skip
    return {r[0]: dict(zip(names, (int(x) for x in r[1:]), strict=True)) for r in rows}


# --- the cycle -------------------------------------------------------------------------------


def _read_inputs(
    inputs: RunInputs, progress: Progress
) -> tuple[pa.Table, dict[str, Path], Policy, list[Agreement]]:
    progress("reading and checking inputs")
    cases = formats.load(inputs.cases, "cases")
    registers = dict(sorted(inputs.registers.items()))  # each read when its turn comes
    for path in registers.values():
        formats.reader.require_file(path)
    policy = load_policy(inputs.policy)
    agreements = load_agreements(inputs.agreements)
    for a in agreements:
        firewall.check_agreement(a, policy)
        scores.require_safeguards(a, policy)
    in_use = {a.recipient for a in agreements if a.status != AgreementStatus.DRAFT}
    missing = sorted(in_use - set(registers))
    if missing:
        raise AccordError(
            f"an agreement names recipient {missing[0]!r} but no --register "
            f"{missing[0]}=FILE was given"
        )
    return cases, registers, policy, agreements


def run_cycle(
    url: str, inputs: RunInputs, progress: Progress = _silent, announce: Progress = _silent
) -> dict[str, Any]:
    """Run one sharing cycle and write its outputs; returns ``summary.json``'s content.

    On an absent or empty database (SPEC.md's batch contract alone, with no `accord
    init` before it) the schema and the ledger key are created first, as `accord init`
    would, once the inputs have been read and found good; ``announce`` is told so.
    """
    cases, registers, policy, agreements = _read_inputs(inputs, progress)
    if not db.exists(url) or db.current_revision(url) is None:
        done = initialise(url, inputs.key)
        announce(
            f"{db.describe(url)} held no Accord database: {done.schema_words()}, ledger key "
            f"{done.key} {'created' if done.key_created else 'found'} and kept with it, "
            "as `accord init` would"
        )
    db.require_schema(url)
    signing.require_key(inputs.key)  # refused now, before any work, if it cannot sign
    # The cases file (small) is hashed here; each register as it is read to be checked,
    # when its turn comes (formats.open_file with digest), not in a read of its own.
    digests = {inputs.source(inputs.cases): _sha256(inputs.cases)}
    started = utcnow()
    run_id = f"run-{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    room = contextlib.ExitStack()
    con = room.enter_context(workspace())
    try:
        with db.connect(url) as conn, ledger_unit.work(conn, inputs.key) as ledger_work:
            conn.execute(
                insert(Run).values(
                    run_id=run_id, command="run", as_of=inputs.as_of, started_at=started,
                    status="started", inputs=digests,
                )
            )  # fmt: skip
            agreements = trusted.settle(conn, agreements)  # patterns two approvers trusted
            versions = store_agreements(conn, agreements, inputs.actor)
            record_policy(conn, policy, inputs.actor)
            progress("admission: deciding the pool")
            withdrawn: list[str] = []

            def recall_withdrawn(c: Connection, people: list[tuple[str, str]]) -> int:
                withdrawn.extend(person for person, _ in people)
                grouped = dict(sorted(by_reason(people).items()))
                return len(withdraw_and_recall(c, grouped, inputs.actor, inputs.as_of).recalls)

            result = admission.admit_in(
                conn, con, inputs.as_of, run_id, cases, policy, inputs.actor,
                inputs.source(inputs.cases), on_withdrawn=recall_withdrawn,
            )  # fmt: skip
            con.execute(
                "CREATE OR REPLACE TABLE pool_status AS SELECT person_id, status FROM pool_new"
            )
            con.execute(
                f"CREATE OR REPLACE TABLE {ADMITTED_PEOPLE} AS "
                f"SELECT person_id FROM pool_new WHERE status = {sql_word(PoolStatus.ADMITTED)}"
            )
            lapsed = scores.recall_lapsed(conn, inputs.as_of, inputs.actor)
            gate.create_empty_inputs(con)
            in_force = [(a, versions[a.id]) for a in agreements]
            _agreements_table(con, in_force, policy)
            _governance_inputs(conn, con, policy, inputs.as_of)
            _score_inputs(conn, con, agreements, policy, inputs.as_of)
            for name, path in registers.items():
                progress(f"{name}: reading and checking the register")
                opened = formats.open_file(con, path, "register", digest=True)
                assert opened.sha256 is not None  # a register is a file: it was hashed
                digests[inputs.source(path)] = opened.sha256
                mine = [
                    a
                    for a in agreements
                    if a.recipient == name and a.status != AgreementStatus.DRAFT
                ]
                if mine:
                    progress(f"{name}: linking {opened.rows:,} register records")
                    _link_register(
                        conn, con, policy, name,
                        functools.partial(opened.to_arrow, list(LINKED_FIELDS)),
                        digests[inputs.source(inputs.registers[name])], mine, run_id, progress,
                        announce,
                    )  # fmt: skip
                opened.close()
            # Every input with its SHA-256 (the registers' found as they were read).
            conn.execute(update(Run).where(Run.run_id == run_id).values(inputs=digests))
            progress("gate: deciding every candidate")
            gate.decide(con, gate.GateSettings(inputs.as_of, policy.long_residence_years))
            gate.decide_scores(con)
            # Queued and disclosed as of the run's day (accord.clock), not the wall clock's.
            at = business_time(inputs.as_of)
            queued = _queue_reviews(conn, con, run_id, at)
            queued += _queue_score_reviews(conn, con, run_id, at)
            released = proposals.release_trusted(conn, con, inputs.actor, at)
            drafts = _drafts(con, policy, None)
            progress(f"disclosing {len(drafts):,}, queueing {queued:,} for review")
            disclose(conn, drafts, at, run_id)
            head = ledger_work.signed_head()  # its summary reports it
            open_items = conn.scalar(
                select(func.count())
                .select_from(ReviewItem)
                .where(ReviewItem.status == ItemStatus.OPEN)
            )
            summary: dict[str, Any] = {
                "run_id": run_id,
                "as_of": inputs.as_of.isoformat(),
                "pool": result.summary(),
                "review_queue": int(open_items or 0),
                "agreements": _agreement_counts(con),
                "ledger": {"size": head.size, "root": head.root.hex()},
                "recalled_on_withdrawal": len(withdrawn),
                "scores_recalled": len(lapsed),
                "released_by_trusted_patterns": released,
            }
            conn.execute(
                update(Run)
                .where(Run.run_id == run_id)
                .values(status="disclosed", summary=summary, finished_at=utcnow())
            )
    finally:
        room.close()
    progress("writing outputs")
    batch_fields: dict[str, list[str]] = {name: [] for name in registers}
    for a in agreements:
        if a.recipient in batch_fields:
            batch_fields[a.recipient] += [f for f in a.fields if f not in batch_fields[a.recipient]]
    write_outputs(url, run_id, inputs.out, summary, batch_fields, inputs.deliver)
    return summary


# --- approval of one reviewed match ----------------------------------------------------------


def _state_for(
    conn: Connection, con: duckdb.DuckDBPyConnection, people: Sequence[str], as_of: dt.date
) -> None:
    """``person_state`` and ``pool_status`` in ``con`` for a few people, from the database."""
    listed = {"people": sorted(set(people))}
    cases = read_arrow(
        conn,
        f"SELECT {', '.join(f'CAST({c.name} AS TEXT)' for c in formats.schema.CASES.columns)} "
        "FROM case_decisions WHERE person_id IN :people AND destroyed_at IS NULL",
        {c.name: pa.string() for c in formats.schema.CASES.columns},
        listed,
    )
    con.register("_cases", cases)
    dates = set(formats.schema.CASES.date_columns)
    cols = ", ".join(
        f"CAST({c.name} AS DATE) AS {c.name}" if c.name in dates else c.name
        for c in formats.schema.CASES.columns
    )
    con.execute(f"CREATE OR REPLACE TABLE person_cases AS SELECT {cols} FROM _cases")
    events = read_arrow(
        conn,
        "SELECT person_id, event_type, CAST(event_date AS TEXT) FROM events "
        "WHERE person_id IN :people",
        {"person_id": pa.string(), "event_type": pa.string(), "event_date": pa.string()},
        listed,
    )
    con.register("_events", events)
    con.execute(
        "CREATE OR REPLACE TABLE person_events AS SELECT person_id, event_type, "
        "CAST(event_date AS DATE) AS event_date FROM _events"
    )
    admission.derive_person_state(con, "person_cases", as_of, "person_events")
    status = read_arrow(
        conn,
        "SELECT person_id, status FROM pool_entries WHERE person_id IN :people",
        {"person_id": pa.string(), "status": pa.string()},
        listed,
    )
    con.register("_status", status)
    con.execute("CREATE OR REPLACE TABLE pool_status AS SELECT * FROM _status")


def disclose_approved(conn: Connection, item: Row[Any], as_of: dt.date) -> str:
    """Disclose an approved match, or an approved score, through the same gate and ledger
    (in the caller's ledger unit of work, `accord.ledger.unit`).

    The approval waives only what it was asked about (uncertain, ambiguous, long
    residence; for a ``score_review`` item, also the adverse use of the score); a pause, a
    freeze, an agreement no longer in force or the firewall still stop it, and the
    reviewer is told which.  A score is checked again as on ``as_of``: one past its
    retention limit, destroyed, or no longer shared under the agreement is not disclosed,
    however it was approved.
    """
    match = conn.execute(select(Match).where(Match.id == item.match_id)).first()
    if match is None or item.agreement_id is None:
        return "approved, but the match it was about is no longer held: nothing disclosed"
    from accord.policy.registry import stored_agreements

    found = [(a, v) for a, v in stored_agreements(conn) if a.id == item.agreement_id]
    if not found:
        return f"approved, but agreement {item.agreement_id} is not loaded: nothing disclosed"
    agreement, version = found[0]
    if agreement_version(conn, agreement.id, version) is None:
        return f"approved, but agreement {agreement.id} v{version} is missing: nothing disclosed"
    policy = load_policy(Settings().policy)  # the policy in force, as `accord run` uses
    is_score = item.kind == scores.REVIEW_KIND
    if is_score:
        why = (
            scores.why_not_shareable(conn, agreement, item.score_id, as_of, policy)
            if item.score_id
            else "the item names no score"
        )
        if why is not None:
            return f"approved, but not disclosed: {why}"
    reviewers = conn.scalars(
        select(ReviewDecision.reviewer)
        .where(ReviewDecision.item_id == item.item_id, ReviewDecision.decision == Decision.APPROVE)
        .order_by(ReviewDecision.decided_at)
    ).all()
    con = duckdb.connect()
    try:
        _state_for(conn, con, [item.person_id], as_of)
        gate.create_empty_inputs(con)
        _agreements_table(con, [(agreement, version)], policy)
        _governance_inputs(conn, con, policy, as_of, people=[item.person_id])
        record = match.record if isinstance(match.record, dict) else {}
        evidence = match.evidence if isinstance(match.evidence, dict) else {}
        since = record.get("since")
        _insert_rows(
            con,
            "candidates",
            [
                {
                    "person_id": item.person_id, "record_id": item.record_id,
                    "register": agreement.recipient,
                    "match_probability": float(match.match_probability),
                    "pair_probability": evidence.get("pair_probability"),
                    "since": dt.date.fromisoformat(since) if since else None,
                    "match_id": int(match.id),
                }
            ],
        )  # fmt: skip
        gate.decide(con, gate.GateSettings(as_of, policy.long_residence_years))
        if is_score:
            _score_inputs(
                conn, con, [agreement], policy, as_of, people=[item.person_id],
                score_ids=[item.score_id],
            )  # fmt: skip
            gate.decide_scores(con)
            outcome, reasons = con.execute(
                "SELECT outcome, reasons FROM score_gate WHERE agreement_id = ? AND score_id = ?",
                [agreement.id, item.score_id],
            ).fetchone() or ("no_match", [])
        else:
            outcome, reasons = con.execute(
                "SELECT outcome, reasons FROM gate WHERE agreement_id = ?", [agreement.id]
            ).fetchone() or ("no_match", [])
        if outcome != "disclose":
            return f"approved, but not disclosed now: {outcome} ({', '.join(reasons)})"
        drafts = _drafts(
            con, policy, REVIEWED + ", ".join(reviewers), records=not is_score,
            score_rows=is_score,
        )  # fmt: skip
        ids = disclose(conn, drafts, business_time(as_of), None)
    finally:
        con.close()
    return f"disclosed as {', '.join(ids)}"
