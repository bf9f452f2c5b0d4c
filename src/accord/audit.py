"""Audit sampling: measure the error rate the way an inspector does (F4, F11).

An inspection found 17 of 169 sampled bank refusals wrong.  Accord builds that
measurement in: :func:`sample` draws a stratified random sample of pool entries
(stratified by status) or of disclosures (by recipient), reproducibly from a seed;
a person checks each item and :func:`record` stores the verdict; :func:`estimate`
gives the error rate with a 95% Wilson score interval per stratum and overall.

Allocation is proportional to stratum size (largest remainders) with at least one item
per stratum.  Within a stratum items are ordered by ``md5(seed:item)``, so the
same seed over the same population draws the same items.

The overall rate is the stratified estimate ``sum(W_h * p_h)`` with ``W_h = N_h / N``.
Its interval is Wilson's with the effective sample size ``1 / sum(W_h^2 / n_h)``
(equal to ``n`` under proportional allocation), which stays meaningful when no error
was found.  No finite-population correction is applied, so intervals are conservative.
Strata without any verdict yet are left out of the overall estimate and it is marked
partial.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, case, func, insert, select, update

from accord import auditlog
from accord.errors import AccordError
from accord.rates import Z95 as Z95  # re-exported: the interval every rate carries
from accord.rates import wilson as wilson
from accord.store.db import connect, session
from accord.store.models import AuditSample
from accord.store.transfer import read_arrow, to_arrow
from accord.vocab import DisclosureStatus, sql_word

VERDICTS = ("correct", "wrong")
KINDS = {"pool_entry": "pool", "disclosure": "disclosures"}


@dataclass(frozen=True)
class Drawn:
    stratum: str
    population: int
    drawn: int


@dataclass(frozen=True)
class StratumEstimate:
    stratum: str
    population: int
    sampled: int
    verified: int
    wrong: int
    rate: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Estimate:
    sample_id: str
    item_kind: str
    strata: list[StratumEstimate]
    overall: StratumEstimate
    effective_n: float | None
    complete: bool  # every stratum has at least one verdict


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Proportional allocation of ``n`` items (largest remainders), at least one per stratum."""
    total = sum(sizes.values())
    n = min(n, total)
    strata = sorted((s for s in sizes if sizes[s] > 0), key=lambda s: (-sizes[s], s))
    if n <= 0 or not strata:
        return {}
    if n < len(strata):
        return {s: 1 for s in strata[:n]}
    quota = {s: n * sizes[s] / total for s in strata}
    alloc = {s: min(sizes[s], max(1, math.floor(quota[s]))) for s in strata}
    left = n - sum(alloc.values())
    while left > 0:
        s = max((s for s in strata if alloc[s] < sizes[s]), key=lambda s: quota[s] - alloc[s])
        alloc[s] += 1
        left -= 1
    while left < 0:  # the minimum of one took items from the largest strata
        s = max((s for s in strata if alloc[s] > 1), key=lambda s: alloc[s] - quota[s])
        alloc[s] -= 1
        left += 1
    return alloc


def _population(conn: Connection, kind: str, statuses: list[str] | None) -> pa.Table:
    types = {"item_ref": pa.string(), "stratum": pa.string()}
    if kind == "pool_entry":
        if statuses:
            return read_arrow(
                conn,
                "SELECT person_id, status FROM pool_entries WHERE status IN :statuses",
                types,
                {"statuses": statuses},
            )
        return read_arrow(conn, "SELECT person_id, status FROM pool_entries", types)
    return read_arrow(
        conn,
        "SELECT disclosure_id, recipient FROM disclosures "
        f"WHERE status = {sql_word(DisclosureStatus.ACTIVE)}",
        types,
    )


def sample(
    url: str,
    size: int,
    seed: int,
    kind: str = "pool_entry",
    statuses: list[str] | None = None,
    sample_id: str | None = None,
    actor: str = "accord",
) -> tuple[str, list[Drawn]]:
    """Draw and store a stratified sample; returns its id and what was drawn per stratum."""
    if kind not in KINDS:
        raise AccordError(f"unknown sample kind {kind!r}: use pool_entry or disclosure")
    if size < 1:
        raise AccordError("a sample needs --size of 1 or more")
    sample_id = sample_id or f"{KINDS[kind]}-{seed}-{size}"
    with connect(url) as conn:
        taken = conn.execute(
            select(func.count()).select_from(AuditSample).where(AuditSample.sample_id == sample_id)
        ).scalar_one()
        if taken:
            raise AccordError(f"sample {sample_id} already exists: give another --id")
        population = _population(conn, kind, statuses)
        if population.num_rows == 0:
            what = "pool entries" if kind == "pool_entry" else "active disclosures"
            raise AccordError(f"there are no {what} to sample")
        con = duckdb.connect()
        try:
            con.register("population", population)
            sizes = dict(
                con.execute("SELECT stratum, count(*) FROM population GROUP BY stratum").fetchall()
            )
            alloc = allocate({str(k): int(v) for k, v in sizes.items()}, size)
            con.register(
                "alloc",
                pa.table(
                    {
                        "stratum": list(alloc),
                        "n": list(alloc.values()),
                        "size": [sizes[s] for s in alloc],
                    }
                ),
            )
            drawn = to_arrow(
                con,
                """
                SELECT item_ref, stratum, size AS stratum_size FROM (
                    SELECT p.item_ref, p.stratum, a.n, a.size,
                           row_number() OVER (PARTITION BY p.stratum
                               ORDER BY md5(CAST($seed AS VARCHAR) || ':' || p.item_ref),
                                        p.item_ref) AS rank
                    FROM population p JOIN alloc a USING (stratum)
                ) WHERE rank <= n ORDER BY stratum, item_ref
                """,
                {"seed": seed},
            )
        finally:
            con.close()
        now = dt.datetime.now(dt.UTC)
        refs = drawn.column("item_ref").to_pylist()
        strata = drawn.column("stratum").to_pylist()
        stratum_sizes = drawn.column("stratum_size").to_pylist()
        conn.execute(
            insert(AuditSample),
            [
                {
                    "sample_id": sample_id,
                    "item_kind": kind,
                    "item_ref": r,
                    "stratum": s,
                    "stratum_size": int(z),
                    "drawn_at": now,
                }
                for r, s, z in zip(refs, strata, stratum_sizes, strict=True)
            ],
        )
        auditlog.log(
            conn,
            actor,
            "audit_sample_drawn",
            sample_id=sample_id,
            item_kind=kind,
            size=len(refs),
            seed=seed,
            statuses=statuses,
            allocation=alloc,
        )
    return sample_id, [Drawn(s, sizes[s], n) for s, n in sorted(alloc.items())]


def items(url: str, sample_id: str) -> list[AuditSample]:
    """The items of a sample, by stratum and reference."""
    with session(url) as s:
        rows = s.scalars(
            select(AuditSample)
            .where(AuditSample.sample_id == sample_id)
            .order_by(AuditSample.stratum, AuditSample.item_ref)
        ).all()
    if not rows:
        raise AccordError(f"no sample {sample_id}")
    return list(rows)


def record(
    url: str,
    sample_id: str,
    verdicts: list[tuple[str, str, str | None]],
    by: str,
) -> int:
    """Store verdicts: (item_ref, ``correct`` or ``wrong``, note); returns how many changed.

    Every item must belong to the sample; a verdict may be changed later, and each
    change is logged with the one it replaced.
    """
    if not by.strip():
        raise AccordError("a verdict needs the name of who checked it (--by)")
    for ref, verdict, _ in verdicts:
        if verdict not in VERDICTS:
            raise AccordError(f"item {ref}: verdict {verdict!r} is not correct or wrong")
    changed = 0
    with connect(url) as conn:
        held = {
            ref: (verdict, row_id)
            for ref, verdict, row_id in conn.execute(
                select(AuditSample.item_ref, AuditSample.verdict, AuditSample.id).where(
                    AuditSample.sample_id == sample_id
                )
            ).all()
        }
        if not held:
            raise AccordError(f"no sample {sample_id}")
        missing = [ref for ref, _, _ in verdicts if ref not in held]
        if missing:
            raise AccordError(f"item {missing[0]} is not in sample {sample_id}")
        now = dt.datetime.now(dt.UTC)
        log_rows: list[auditlog.AuditRow] = []
        for ref, verdict, note in verdicts:
            before, row_id = held[ref]
            if before == verdict and note is None:
                continue
            conn.execute(
                update(AuditSample)
                .where(AuditSample.id == row_id)
                .values(verdict=verdict, verdict_by=by, verdict_note=note, verdict_at=now)
            )
            log_rows.append(
                (
                    by,
                    "audit_verdict_recorded",
                    None,
                    {
                        "sample_id": sample_id,
                        "item_ref": ref,
                        "verdict": verdict,
                        "previous": before,
                        "note": note,
                    },
                )
            )
            changed += 1
        auditlog.log_many(conn, log_rows)
    return changed


def estimate(url: str, sample_id: str) -> Estimate:
    """The error rate with 95% Wilson intervals, per stratum and overall (stratified)."""
    with connect(url) as conn:
        rows = conn.execute(
            select(
                AuditSample.stratum,
                func.max(AuditSample.stratum_size),
                func.count(),
                func.count(AuditSample.verdict),
                func.sum(case((AuditSample.verdict == "wrong", 1), else_=0)),
                func.min(AuditSample.item_kind),
            )
            .where(AuditSample.sample_id == sample_id)
            .group_by(AuditSample.stratum)
            .order_by(AuditSample.stratum)
        ).all()
    if not rows:
        raise AccordError(f"no sample {sample_id}")
    strata: list[StratumEstimate] = []
    for stratum, population, sampled, verified, wrong, _ in rows:
        wrong = int(wrong or 0)
        if verified:
            low, high = wilson(wrong, verified)
            strata.append(
                StratumEstimate(
                    stratum,
                    int(population),
                    int(sampled),
                    int(verified),
                    wrong,
                    wrong / verified,
                    low,
                    high,
                )
            )
        else:
            strata.append(
                StratumEstimate(stratum, int(population), int(sampled), 0, 0, None, None, None)
            )
    seen = [s for s in strata if s.verified]
    population = sum(s.population for s in strata)
    sampled = sum(s.sampled for s in strata)
    verified = sum(s.verified for s in strata)
    wrong_total = sum(s.wrong for s in strata)
    effective: float | None = None
    if seen:
        covered = sum(s.population for s in seen)
        weights = [s.population / covered for s in seen]
        rate = sum(w * (s.wrong / s.verified) for w, s in zip(weights, seen, strict=True))
        effective = 1 / sum(w * w / s.verified for w, s in zip(weights, seen, strict=True))
        low, high = wilson(rate * effective, effective)
        overall = StratumEstimate(
            "overall", population, sampled, verified, wrong_total, rate, low, high
        )
    else:
        overall = StratumEstimate("overall", population, sampled, 0, 0, None, None, None)
    return Estimate(
        sample_id, str(rows[0][5]), strata, overall, effective, complete=len(seen) == len(strata)
    )
